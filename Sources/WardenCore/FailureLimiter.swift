/// Back-off after failed presentations, per peer and for the lock as a whole. Pure (time comes in as monotonic
/// `Duration`), so its rules are table-tested.
///
/// - Per peer: more than `maxFailures` within `window` from one peer blocks that peer for `penalty`.
/// - Globally: a phone's BLE address rotates (every 15 minutes on iOS, and an attacker rotates at will), so per-peer
///   limits alone do not stop a flood. Once `globalMaxFailures` failures happened within `window` from anyone, the
///   lock admits at most one new session per `globalInterval` until the rate falls again: a real user under attack
///   waits about a second; an attacker gets one try per second instead of thousands.
/// - The audit trail: while over the global budget, failures that carry no verified credential are counted instead of
///   audited one by one, and summarised once per `window` (`AuditSummary`), so a flood cannot push real records
///   out of the journal's retention. Denials of verified credentials are always audited by the caller.
///
/// Bounded memory: at most `maxPeers` peers are tracked (stalest forgotten first) and at most `globalMaxFailures`
/// global timestamps.
public struct FailureLimiter: Sendable {
    public var maxFailures: Int
    public var window: Duration
    public var penalty: Duration
    public var maxPeers: Int
    public var globalMaxFailures: Int
    public var globalInterval: Duration
    private var failures: [String: [Duration]] = [:]
    private var blockedUntil: [String: Duration] = [:]
    private var recentGlobal: [Duration] = []
    private var nextGlobalAdmission: Duration = .zero
    private var suppressed = 0
    private var suppressedPeers: Set<String> = []
    private var suppressingSince: Duration?

    /// What the caller does with one failure.
    public struct Outcome: Sendable, Equatable {
        /// Audit this failure on its own (false: it was counted into the next summary).
        public var audit: Bool
        /// This failure started a block of its peer.
        public var peerBlocked: Bool
        /// This failure crossed the global budget: the lock now throttles every new session.
        public var globalThrottleStarted: Bool
        /// Failures counted but not audited since the last summary, to be audited now as one record.
        public var summary: AuditSummary?
    }

    /// Failures that were counted instead of audited one by one.
    public struct AuditSummary: Sendable, Equatable {
        public var failures: Int
        /// Distinct peer addresses among them (at most 4,096 are counted).
        public var peers: Int
        public var over: Duration
    }

    public init(
        maxFailures: Int = 5,
        window: Duration = .seconds(60),
        penalty: Duration = .seconds(30),
        maxPeers: Int = 1024,
        globalMaxFailures: Int = 60,
        globalInterval: Duration = .seconds(1)
    ) {
        self.maxFailures = maxFailures
        self.window = window
        self.penalty = penalty
        self.maxPeers = maxPeers
        self.globalMaxFailures = max(1, globalMaxFailures)
        self.globalInterval = globalInterval
    }

    /// Whether the lock as a whole is over its failure budget at `now`.
    public func overGlobalBudget(at now: Duration) -> Bool {
        recentGlobal.count >= globalMaxFailures && now - recentGlobal[0] < window
    }

    /// Whether `peer` may start a presentation now. Takes the global slot when the lock is throttling, so call it once
    /// per session about to start.
    public mutating func admit(_ peer: String, at now: Duration) -> Bool {
        if let until = blockedUntil[peer], now < until { return false }
        guard overGlobalBudget(at: now) else { return true }
        guard now >= nextGlobalAdmission else { return false }
        nextGlobalAdmission = now + globalInterval
        return true
    }

    /// Records a failure from `peer`. `againstPeer` is false for a session that ended before the phone presented a
    /// credential (a dropped link, the HELLO deadline, a malformed first frame): it counts against the lock's global
    /// budget only, so five flaky BLE links do not lock a phone out (docs/protocol.md §14).
    public mutating func recordFailure(_ peer: String, againstPeer: Bool = true, at now: Duration) -> Outcome {
        blockedUntil = blockedUntil.filter { $0.value > now }
        var peerBlocked = false
        if againstPeer {
            var list = (failures[peer] ?? []).filter { now - $0 < window }
            list.append(now)
            failures[peer] = list
            if failures.count > maxPeers,
                let stalest = failures.min(by: { ($0.value.last ?? .zero) < ($1.value.last ?? .zero) })?.key
            {
                failures[stalest] = nil
            }
            if list.count >= maxFailures {
                failures[peer] = []
                blockedUntil[peer] = now + penalty
                peerBlocked = true
            }
        }

        let wasOver = overGlobalBudget(at: now)
        recentGlobal.append(now)
        if recentGlobal.count > globalMaxFailures { recentGlobal.removeFirst(recentGlobal.count - globalMaxFailures) }
        let isOver = overGlobalBudget(at: now)
        let started = isOver && !wasOver

        var summary: AuditSummary?
        if wasOver {
            // Counted, not audited; summarised once per window while it lasts.
            suppressed += 1
            if suppressedPeers.count < 4096 { suppressedPeers.insert(peer) }
            if suppressingSince == nil { suppressingSince = now }
            if let since = suppressingSince, now - since >= window { summary = takeSummary(at: now) }
            return Outcome(audit: false, peerBlocked: peerBlocked, globalThrottleStarted: false, summary: summary)
        }
        summary = takeSummary(at: now)
        return Outcome(audit: true, peerBlocked: peerBlocked, globalThrottleStarted: started, summary: summary)
    }

    /// Failures counted but not yet summarised, if any; the caller audits them (also on a timer, so the last part of
    /// a flood is not left unreported until the next failure).
    public mutating func takeSummary(at now: Duration) -> AuditSummary? {
        guard suppressed > 0, let since = suppressingSince else { return nil }
        let s = AuditSummary(failures: suppressed, peers: suppressedPeers.count, over: now - since)
        suppressed = 0
        suppressedPeers = []
        suppressingSince = overGlobalBudget(at: now) ? now : nil
        return s
    }

    /// A success clears the peer's failure history.
    public mutating func recordSuccess(_ peer: String) {
        failures[peer] = nil
    }
}
