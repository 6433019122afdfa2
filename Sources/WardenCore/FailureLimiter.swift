/// Per-peer back-off after failed presentations: more than `maxFailures` within `window` from one peer blocks that
/// peer for `penalty`. Pure (time comes in as monotonic `Duration`), so its rules are table-tested like Tesla's
/// anti-replay window. Bounded memory: at most `maxPeers` peers are tracked, the stalest forgotten first.
public struct FailureLimiter: Sendable {
    public var maxFailures: Int
    public var window: Duration
    public var penalty: Duration
    public var maxPeers: Int
    private var failures: [String: [Duration]] = [:]
    private var blockedUntil: [String: Duration] = [:]

    public init(maxFailures: Int = 5, window: Duration = .seconds(60), penalty: Duration = .seconds(30), maxPeers: Int = 1024) {
        self.maxFailures = maxFailures
        self.window = window
        self.penalty = penalty
        self.maxPeers = maxPeers
    }

    /// Whether `peer` may start a presentation now.
    public func allows(_ peer: String, at now: Duration) -> Bool {
        guard let until = blockedUntil[peer] else { return true }
        return now >= until
    }

    /// Records a failure; returns true when this failure starts a block.
    @discardableResult
    public mutating func recordFailure(_ peer: String, at now: Duration) -> Bool {
        var list = (failures[peer] ?? []).filter { now - $0 < window }
        list.append(now)
        failures[peer] = list
        if failures.count > maxPeers, let stalest = failures.min(by: { ($0.value.last ?? .zero) < ($1.value.last ?? .zero) })?.key {
            failures[stalest] = nil
        }
        blockedUntil = blockedUntil.filter { $0.value > now }
        if list.count >= maxFailures {
            failures[peer] = []
            blockedUntil[peer] = now + penalty
            return true
        }
        return false
    }

    /// A success clears the peer's failure history.
    public mutating func recordSuccess(_ peer: String) {
        failures[peer] = nil
    }
}
