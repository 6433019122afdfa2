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
