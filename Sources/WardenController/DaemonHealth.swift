import Synchronization

/// What wardend's watchdog probes: every long-running part says when it is serving and whether it still is. READY
/// goes to systemd only once every part serves, and WATCHDOG pings stop as soon as one part has died for good, so
/// systemd restarts the daemon (a dead accept loop or GPIO loop is not hidden by a responsive door actor).
public final class DaemonHealth: Sendable {
    private struct Part {
        var serving = false
        var failed = false
        var alive: @Sendable () async -> Bool
    }

    private let parts = Mutex<[String: Part]>([:])

    public init() {}

    /// Declares a part; `alive` is probed on every watchdog tick once the part serves (`serving`: already does).
    public func register(_ name: String, serving: Bool = false, alive: @escaping @Sendable () async -> Bool) {
        parts.withLock { $0[name] = Part(serving: serving, alive: alive) }
    }

    /// The part accepts work now.
    public func serving(_ name: String) {
        parts.withLock { $0[name]?.serving = true }
    }

    /// The part has stopped for good (its loop ended on a permanent error).
    public func failed(_ name: String) {
        parts.withLock { $0[name]?.failed = true }
    }

    /// Whether every registered part serves.
    public var allServing: Bool { parts.withLock { $0.values.allSatisfy(\.serving) } }

    /// The parts that are not serving or no longer alive (empty when healthy).
    public func unhealthy() async -> [String] {
        let snapshot = parts.withLock { $0 }
        var bad: [String] = []
        for (name, part) in snapshot.sorted(by: { $0.key < $1.key }) {
            if !part.serving {
                bad.append("\(name) (not serving)")
            } else if part.failed {
                bad.append("\(name) (stopped)")
            } else if await !part.alive() {
                bad.append(name)
            }
        }
        return bad
    }
}
