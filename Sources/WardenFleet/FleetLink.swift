import Synchronization

/// One board's connection as the simulator saw it (fed from the sync service's connection events).
final class FleetLink: Sendable {
    struct State {
        var connected = false
        var connectedOnce: ContinuousClock.Instant?
        var lostAt: ContinuousClock.Instant?
        var reconnects: [Duration] = []
        /// Each audit batch's wait from publish to the acknowledgement after the cloud's commit.
        var ackWaits: [Duration] = []
    }
    private let state = Mutex(State())

    func connected(at now: ContinuousClock.Instant) {
        state.withLock { l in
            if let lost = l.lostAt { l.reconnects.append(now - lost) }
            l.lostAt = nil
            l.connected = true
            if l.connectedOnce == nil { l.connectedOnce = now }
        }
    }

    func disconnected(at now: ContinuousClock.Instant) {
        state.withLock { l in
            if l.connected { l.lostAt = now }
            l.connected = false
        }
    }

    func acknowledged(after wait: Duration) { state.withLock { $0.ackWaits.append(wait) } }

    var snapshot: State { state.withLock { $0 } }
}
