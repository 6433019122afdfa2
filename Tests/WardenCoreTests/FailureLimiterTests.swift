import Testing
import WardenCore

/// The back-off rules, with time as plain values (no clock, no sleeps).
@Suite struct FailureLimiterTests {
    func s(_ seconds: Double) -> Duration { .milliseconds(Int64(seconds * 1000)) }

    @Test func onePeerIsBlockedAfterItsFailuresThenLetBackIn() {
        var l = FailureLimiter(maxFailures: 3, window: .seconds(60), penalty: .seconds(30))
        do {
            let r = l.admit("a", at: s(0))
            #expect(r)
        }
        do {
            let r = l.recordFailure("a", at: s(1))
            #expect(!r.peerBlocked)
        }
        do {
            let r = l.recordFailure("a", at: s(2))
            #expect(!r.peerBlocked)
        }
        let third = l.recordFailure("a", at: s(3))
        #expect(third.peerBlocked && third.audit)
        do {
            let r = l.admit("a", at: s(4))
            #expect(!r)
        }
        do {
            let r = l.admit("a", at: s(32.9))
            #expect(!r)
        }
        do {
            let r = l.admit("a", at: s(33))
            #expect(r)
        }
        do {
            let r = l.admit("b", at: s(4))
            #expect(r, "another peer is not affected")
        }
    }

    @Test func failuresOutsideTheWindowDoNotCount() {
        var l = FailureLimiter(maxFailures: 3, window: .seconds(60))
        _ = l.recordFailure("a", at: s(0))
        _ = l.recordFailure("a", at: s(1))
        do {
            let r = l.recordFailure("a", at: s(61))
            #expect(!r.peerBlocked, "the first failure left the window")
        }
        do {
            let r = l.admit("a", at: s(62))
            #expect(r)
        }
    }

    @Test func successClearsThePeersHistory() {
        var l = FailureLimiter(maxFailures: 3)
        _ = l.recordFailure("a", at: s(0))
        _ = l.recordFailure("a", at: s(1))
        l.recordSuccess("a")
        do {
            let r = l.recordFailure("a", at: s(2))
            #expect(!r.peerBlocked)
        }
    }

    /// An attacker rotating its address every attempt never trips the per-peer rule; the global budget catches it.
    @Test func rotatingAddressesHitTheGlobalBudget() {
        var l = FailureLimiter(maxFailures: 5, window: .seconds(60), globalMaxFailures: 10, globalInterval: .seconds(1))
        var t = s(0)
        for i in 0..<9 {
            do {
                let r = l.admit("rot-\(i)", at: t)
                #expect(r)
            }
            let o = l.recordFailure("rot-\(i)", at: t)
            #expect(o.audit && !o.peerBlocked && !o.globalThrottleStarted)
            t += .milliseconds(10)
        }
        #expect(!l.overGlobalBudget(at: t))
        do {
            let r = l.admit("rot-9", at: t)
            #expect(r)
        }
        let tenth = l.recordFailure("rot-9", at: t)
        #expect(
            tenth.audit && tenth.globalThrottleStarted,
            "the failure that crosses the budget is audited and raises the alarm"
        )
        #expect(l.overGlobalBudget(at: t))

        // Throttled: one new session per second, whoever it is.
        t += .milliseconds(10)
        do {
            let r = l.admit("rot-10", at: t)
            #expect(r)
        }
        do {
            let r = l.admit("rot-11", at: t + .milliseconds(500))
            #expect(!r)
        }
        do {
            let r = l.admit("alice", at: t + .milliseconds(999))
            #expect(!r, "a real user waits too, at most a second")
        }
        do {
            let r = l.admit("alice", at: t + .seconds(1))
            #expect(r)
        }
    }

    @Test func floodIsSummarisedNotAuditedOneByOne() {
        var l = FailureLimiter(
            maxFailures: 1000,
            window: .seconds(60),
            globalMaxFailures: 3,
            globalInterval: .seconds(1)
        )
        for i in 0..<3 {
            let r = l.recordFailure("p\(i)", at: s(Double(i)))
            #expect(r.audit)
        }
        // Over budget now: counted, not audited.
        var suppressed = 0
        var summaries: [FailureLimiter.AuditSummary] = []
        var t = 3.0
        while t < 130 {
            let o = l.recordFailure("p\(Int(t) % 7)", at: s(t))
            if !o.audit { suppressed += 1 }
            if let sum = o.summary { summaries.append(sum) }
            t += 1
        }
        #expect(suppressed == 127, "every failure while over budget is counted instead")
        #expect(summaries.count == 2, "one summary per 60 s window while it lasts: \(summaries)")
        #expect(summaries.first?.failures == 61)
        #expect(summaries.first?.peers == 7)
        #expect(summaries.first?.over == .seconds(60))
        // The rest is reported by the caller's timer (or the next failure after the flood).
        let rest = l.takeSummary(at: s(131))
        #expect(rest?.failures == 127 - 61 - 60)
        let again = l.takeSummary(at: s(132))
        #expect(again == nil, "nothing twice")
        // Once the flood is over (the window emptied), failures are audited one by one again.
        #expect(!l.overGlobalBudget(at: s(200)))
        do {
            let r = l.recordFailure("p1", at: s(200))
            #expect(r.audit)
        }
    }

    @Test func memoryIsBounded() {
        var l = FailureLimiter(maxFailures: 3, maxPeers: 16, globalMaxFailures: 100_000)
        for i in 0..<10_000 { _ = l.recordFailure("peer-\(i)", at: .milliseconds(Int64(i))) }
        // The oldest peers were forgotten: a peer from the start can fail twice more without being blocked.
        do {
            let r = l.recordFailure("peer-0", at: .seconds(11))
            #expect(!r.peerBlocked)
        }
        do {
            let r = l.recordFailure("peer-0", at: .seconds(12))
            #expect(!r.peerBlocked)
        }
    }
}
