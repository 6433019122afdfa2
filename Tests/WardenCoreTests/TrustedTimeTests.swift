import Foundation
import Testing
import WardenCore

@Suite struct TrustedTimeTests {
    let mark = Date(timeIntervalSince1970: 1_790_000_000)

    @Test func clockAheadOfMarkIsTrustedAndAdvancesIt() {
        var t = TrustedTime(highWaterMark: mark)
        #expect(t.assess(wallClock: mark.addingTimeInterval(30)) == .trusted(mark.addingTimeInterval(30)))
        #expect(t.highWaterMark == mark.addingTimeInterval(30))
    }

    @Test func clockResetBehindMarkIsUnknownAndDeniedByDefault() {
        var t = TrustedTime(highWaterMark: mark)
        let reset = Date(timeIntervalSince1970: 0)
        #expect(t.assess(wallClock: reset) == .unknown(highWaterMark: mark))
        #expect(t.decisionTime(wallClock: reset) == nil)
        #expect(t.highWaterMark == mark, "a reset clock must not move the mark back")
    }

    @Test func highWaterMarkPolicyEvaluatesAtTheMark() {
        var t = TrustedTime(highWaterMark: mark, policy: .highWaterMark)
        #expect(t.decisionTime(wallClock: Date(timeIntervalSince1970: 0)) == mark)
    }

    @Test func smallSkewBehindMarkIsNeverBeforeTheMark() {
        var t = TrustedTime(highWaterMark: mark)
        #expect(t.assess(wallClock: mark.addingTimeInterval(-60)) == .trusted(mark))
    }

    @Test func cloudSyncFixesAResetClock() {
        var t = TrustedTime(highWaterMark: mark)
        let reset = Date(timeIntervalSince1970: 0)
        t.sync(reference: mark.addingTimeInterval(3600), wallClock: reset)
        #expect(t.assess(wallClock: reset.addingTimeInterval(10)) == .trusted(mark.addingTimeInterval(3610)))
    }

    @Test func syncCannotRewindUnlessAllowed() {
        var t = TrustedTime(highWaterMark: mark)
        t.sync(reference: mark.addingTimeInterval(-7200), wallClock: mark)
        #expect(t.assess(wallClock: mark) == .trusted(mark))
        t.sync(reference: mark.addingTimeInterval(-7200), wallClock: mark, allowRewind: true)
        #expect(t.assess(wallClock: mark) == .trusted(mark.addingTimeInterval(-7200)))
    }
}

/// A clock that jumps forward (hostile SNTP, a bad NTP step) is unconfirmed: it neither moves the mark nor decides.
@Suite struct ForwardJumpTests {
    let mark = Date(timeIntervalSince1970: 1_790_000_000)

    @Test func aJumpPastTheBoundIsUnconfirmedAndLeavesTheMark() {
        var t = TrustedTime(highWaterMark: mark, maxForwardJump: 3600)
        let jumped = mark.addingTimeInterval(86_400 * 400)
        #expect(t.assess(wallClock: jumped) == .unconfirmed(wallClock: jumped, highWaterMark: mark))
        #expect(t.highWaterMark == mark, "the mark never follows an unconfirmed clock")
        #expect(t.decisionTime(wallClock: jumped) == nil, "deny policy: no decision on unconfirmed time")
        #expect(t.trustedTime(wallClock: jumped) == nil, "never time to hold a door open")
    }

    @Test func theHighWaterMarkPolicyDecidesAtTheMarkNeverAtTheJumpedClock() {
        var t = TrustedTime(highWaterMark: mark, policy: .highWaterMark, maxForwardJump: 3600)
        #expect(t.decisionTime(wallClock: mark.addingTimeInterval(7200)) == mark)
        #expect(t.trustedTime(wallClock: mark.addingTimeInterval(7200)) == nil)
    }

    @Test func theClockComingBackIsTrustedAgainWithNoLockout() {
        var t = TrustedTime(highWaterMark: mark, maxForwardJump: 3600)
        _ = t.assess(wallClock: mark.addingTimeInterval(86_400 * 30))
        #expect(t.assess(wallClock: mark.addingTimeInterval(60)) == .trusted(mark.addingTimeInterval(60)))
    }

    @Test func withinTheBoundTimeIsTrustedAndAConfirmedJumpToo() {
        var t = TrustedTime(highWaterMark: mark, maxForwardJump: 3600)
        #expect(t.assess(wallClock: mark.addingTimeInterval(3000)) == .trusted(mark.addingTimeInterval(3000)))
        let later = mark.addingTimeInterval(86_400 * 3)
        #expect(t.trustedTime(wallClock: later) == nil)
        t.confirm(wallClock: later)
        #expect(t.assess(wallClock: later) == .trusted(later))
        #expect(t.highWaterMark == later)
    }

    @Test func aNewBoardWithNoMarkTrustsItsFirstReading() {
        var t = TrustedTime(highWaterMark: Date(timeIntervalSince1970: 0), maxForwardJump: 3600)
        #expect(t.assess(wallClock: mark) == .trusted(mark))
    }
}
