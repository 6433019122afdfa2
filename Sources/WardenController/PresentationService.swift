import Crypto
import Foundation
import Logging
import Synchronization
import WardenProtocol

/// Runs key-presentation sessions on any `FrameChannel` (BLE L2CAP, Unix seqpacket, TCP) against the door
/// controller. Abuse handling lives here and in the controller: bounded concurrent sessions (`busy`), per-peer
/// back-off after failures (`rate_limited`), a hard session deadline (`timeout`), the protocol's frame limit.
public final class PresentationService<C: Clock>: Sendable where C.Duration == Duration {
    let controller: DoorController<C>
    let certificate: LockCertificate
    let deviceKey: P256.Signing.PrivateKey
    let maxSessions: Int
    let timeout: Duration
    let logger: Logger
    /// How long a new connection may stay silent before its HELLO; it holds no session slot meanwhile.
    let helloDeadline: Duration
    /// At most this many connections wait for their first frame; a new one past it closes the oldest waiting.
    let maxWaiting: Int
    private let state = Mutex(State())

    private struct State {
        var active = 0
        var nextID: UInt64 = 0
        /// Connections waiting for their first frame, oldest first.
        var waiting: [(UInt64, any FrameChannel)] = []
        /// Sessions under way, so `stop()` can cancel them.
        var sessions: [UInt64: any FrameChannel] = [:]
        var stopped = false
    }

    public init(
        controller: DoorController<C>,
        certificate: LockCertificate,
        deviceKey: P256.Signing.PrivateKey,
        maxSessions: Int = 4,
        timeout: Duration = .seconds(5),
        helloDeadline: Duration = .seconds(1),
        maxWaiting: Int = 64,
        logger: Logger
    ) {
        self.controller = controller
        self.certificate = certificate
        self.deviceKey = deviceKey
        self.maxSessions = maxSessions
        self.timeout = timeout
        self.helloDeadline = helloDeadline
        self.maxWaiting = maxWaiting
        self.logger = logger
    }

    public var activeSessions: Int { state.withLock { $0.active } }

    /// Stops taking sessions and closes every connection under way (shutdown: no decision after this).
    public func stop() {
        let open = state.withLock { s -> [any FrameChannel] in
            s.stopped = true
            defer {
                s.waiting = []
                s.sessions = [:]
            }
            return s.waiting.map { $0.1 } + Array(s.sessions.values)
        }
        for c in open { c.close() }
    }

    private enum FirstFrame {
        case frame([UInt8])
        case silent
        case bad(ProtocolError)
        case gone
    }

    /// The peer's first frame, before any slot is taken; bounded in time (`helloDeadline`) and in number
    /// (`maxWaiting`, oldest closed first).
    private func firstFrame(_ channel: any FrameChannel, id: UInt64) async -> FirstFrame {
        let (admitted, evicted) = state.withLock { s -> (Bool, (any FrameChannel)?) in
            guard !s.stopped else { return (false, nil) }
            var evicted: (any FrameChannel)?
            if s.waiting.count >= maxWaiting { evicted = s.waiting.removeFirst().1 }
            s.waiting.append((id, channel))
            return (true, evicted)
        }
        evicted?.close()
        guard admitted else { return .gone }
        defer { state.withLock { s in s.waiting.removeAll { $0.0 == id } } }
        let (silent, watch) = SessionFlag.closing(channel, after: helloDeadline)
        defer { watch.cancel() }
        do {
            return .frame(try await channel.receive())
        } catch {
            if silent.isSet { return .silent }
            if let e = error as? ProtocolError { return .bad(e) }
            return .gone
        }
    }

    /// One connection: first frame (no slot held), then admission (per-peer back-off, global budget), then a slot,
    /// then the session under its deadline.
    public func handle(_ channel: any FrameChannel) async {
        let id = state.withLock { s -> UInt64 in
            s.nextID += 1
            return s.nextID
        }
        let peer = channel.peer
        let first: [UInt8]
        switch await firstFrame(channel, id: id) {
        case .frame(let f): first = f
        case .silent:
            await controller.protocolFailure(
                ProtocolError(.timeout, "no HELLO within the deadline"),
                peer: peer,
                againstPeer: false
            )
            return channel.close()
        case .bad(let e):
            await controller.protocolFailure(e, peer: peer, againstPeer: false)
            try? await channel.send(Frame(.error, [e.code.rawValue]).bytes)
            return channel.close()
        case .gone:
            await controller.sessionAbandoned(peer: peer)
            return channel.close()
        }
        guard await controller.admit(peer: peer) else { return await refuse(channel, .rateLimited) }
        let slot = state.withLock { s -> Bool in
            guard !s.stopped, s.active < maxSessions else { return false }
            s.active += 1
            s.sessions[id] = channel
            return true
        }
        guard slot else { return await refuse(channel, .busy) }
        defer {
            state.withLock { s in
                s.active -= 1
                s.sessions[id] = nil
            }
        }
        await run(channel, first: first)
    }

    /// Answers with an ERROR and closes (the peer's first frame was read, so the kernel does not reset the link).
    private func refuse(_ channel: any FrameChannel, _ code: ResultCode) async {
        try? await channel.send(Frame(.error, [code.rawValue]).bytes)
        channel.close()
    }

    private func run(_ channel: any FrameChannel, first: [UInt8]) async {
        let (timedOut, watchdog) = SessionFlag.closing(channel, after: timeout)
        defer { watchdog.cancel() }
        var session = LockSession(certificate: certificate, deviceKey: deviceKey)
        var next: [UInt8]? = first
        var finished = false
        var audited = false
        while !finished {
            let frame: [UInt8]
            if let n = next {
                frame = n
                next = nil
            } else {
                do { frame = try await channel.receive() } catch {
                    if timedOut.isSet {
                        _ = session.timedOut()
                    } else if let e = error as? ProtocolError {
                        await controller.protocolFailure(e, peer: channel.peer, againstPeer: session.receivedPresent)
                        try? await channel.send(Frame(.error, [e.code.rawValue]).bytes)
                        channel.close()
                        return
                    } else if !session.isDone {
                        await controller.sessionAbandoned(peer: channel.peer)
                        audited = true
                    }
                    break
                }
            }
            var actions = session.receive(frame)
            if let failure = session.failure {
                // Record (and rate-limit) before answering, so the peer's next attempt already sees it.
                await controller.protocolFailure(failure, peer: channel.peer, againstPeer: session.receivedPresent)
                audited = true
            }
            while !actions.isEmpty {
                let a = actions.removeFirst()
                switch a {
                case .send(let f):
                    try? await channel.send(f)
                case .evaluate(let token):
                    let s = session
                    let (_, code, ms) = await controller.presentOverSession(
                        credential: token,
                        holderProofValid: { s.holderProofValid($0) },
                        peer: channel.peer
                    )
                    actions += session.complete(code: code, unlockMillis: ms)
                case .close:
                    finished = true
                }
            }
        }
        if !audited, let failure = session.failure {
            await controller.protocolFailure(failure, peer: channel.peer, againstPeer: session.receivedPresent)
        }
        channel.close()
    }
}

/// Set once by a watchdog task, read by the session loop.
final class SessionFlag: Sendable {
    /// A deadline: after `delay` (unless the task is cancelled first) the flag is set and `channel` closed.
    static func closing(_ channel: any FrameChannel, after delay: Duration) -> (SessionFlag, Task<Void, Never>) {
        let flag = SessionFlag()
        let task = Task {
            try? await Task.sleep(for: delay)
            if !Task.isCancelled {
                flag.set()
                channel.close()
            }
        }
        return (flag, task)
    }

    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}
