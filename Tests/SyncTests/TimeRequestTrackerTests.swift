import Foundation
import Testing
import WardenSync
import WardenWire

/// Signed time answers: only for this board, only for the outstanding nonce, once, within the round-trip bound.
@Suite struct TimeRequestTrackerTests {
    func answer(dev: String = "lock-1", nonce: String = "n1") -> SignedTime {
        SignedTime(issuer: "cloud", device: dev, nonce: nonce, time: Date(timeIntervalSince1970: 1_800_000_000))
    }

    @Test func acceptsTheOutstandingNonceOnceWithItsRoundTrip() {
        var t = TimeRequestTracker()
        t.requested(nonce: "n1", at: .seconds(100))
        #expect(t.waiting(at: .seconds(101)))
        let first = t.answer(answer(), device: "lock-1", at: .milliseconds(100_250))
        #expect(first == .accept(roundTrip: .milliseconds(250)))
        guard case .refuse = t.answer(answer(), device: "lock-1", at: .seconds(101)) else {
            Issue.record("a replayed answer was accepted")
            return
        }
    }

    @Test func refusesAnotherDeviceAnotherNonceAndALateAnswer() {
        var t = TimeRequestTracker(maxRoundTrip: .seconds(10))
        t.requested(nonce: "n1", at: .zero)
        if case .accept = t.answer(answer(dev: "lock-2"), device: "lock-1", at: .seconds(1)) {
            Issue.record("another board's answer was accepted")
        }
        if case .accept = t.answer(answer(nonce: "old"), device: "lock-1", at: .seconds(1)) {
            Issue.record("an answer to another nonce was accepted")
        }
        #expect(!t.waiting(at: .seconds(10)))
        guard case .refuse(let why) = t.answer(answer(), device: "lock-1", at: .seconds(11)) else {
            Issue.record("a late answer was accepted")
            return
        }
        #expect(why.contains("over the"))
    }
}
