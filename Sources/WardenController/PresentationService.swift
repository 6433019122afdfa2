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
    private let active = Mutex(0)

    public init(controller: DoorController<C>, certificate: LockCertificate, deviceKey: P256.Signing.PrivateKey, maxSessions: Int = 4,
                timeout: Duration = .seconds(5), logger: Logger) {
        self.controller = controller
        self.certificate = certificate
        self.deviceKey = deviceKey
        self.maxSessions = maxSessions
        self.timeout = timeout
        self.logger = logger
    }

    public var activeSessions: Int { active.withLock { $0 } }

    /// Answers the peer's first frame with an ERROR and closes. Reading the frame first matters: closing a socket
    /// with unread data makes the kernel reset the connection, and the phone would never see why.
    private func refuse(_ channel: any FrameChannel, _ code: ResultCode) async {
        let guardTask = Task {
            try? await Task.sleep(for: .seconds(1))
            if !Task.isCancelled { channel.close() }
        }
        _ = try? await channel.receive()
        guardTask.cancel()
        try? await channel.send(Frame(.error, [code.rawValue]).bytes)
        channel.close()
    }

    public func handle(_ channel: any FrameChannel) async {
        let admitted = active.withLock { n -> Bool in
            guard n < maxSessions else { return false }
            n += 1
            return true
        }
        guard admitted else { return await refuse(channel, .busy) }
        defer { active.withLock { $0 -= 1 } }
        guard await controller.admit(peer: channel.peer) else { return await refuse(channel, .rateLimited) }
        let timedOut = SessionFlag()
        let watchdog = Task { [timeout] in
            try? await Task.sleep(for: timeout)
            if !Task.isCancelled {
                timedOut.set()
                channel.close()
            }
        }
        defer { watchdog.cancel() }
        // A connection that says nothing gets a much shorter grace than a session under way: it holds a slot.
        let helloWatch = Task {
            try? await Task.sleep(for: .seconds(1))
            if !Task.isCancelled {
                timedOut.set()
                channel.close()
            }
        }
        defer { helloWatch.cancel() }
        var session = LockSession(certificate: certificate, deviceKey: deviceKey)
        var finished = false
        var audited = false
        while !finished {
            let frame: [UInt8]
            do { frame = try await channel.receive() } catch {
                if timedOut.isSet {
                    _ = session.timedOut()
                } else if let e = error as? ProtocolError {
                    await controller.protocolFailure(e, peer: channel.peer)
                    try? await channel.send(Frame(.error, [e.code.rawValue]).bytes)
                    channel.close()
                    return
                }
                break
            }
            helloWatch.cancel()
            var actions = session.receive(frame)
            if let failure = session.failure {
                // Record (and rate-limit) before answering, so the peer's next attempt already sees it.
                await controller.protocolFailure(failure, peer: channel.peer)
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
                        credential: token, holderProofValid: { s.holderProofValid($0) }, peer: channel.peer)
                    actions += session.complete(code: code, unlockMillis: ms)
                case .close:
                    finished = true
                }
            }
        }
        if !audited, let failure = session.failure { await controller.protocolFailure(failure, peer: channel.peer) }
        channel.close()
    }
}

/// Set once by a watchdog task, read by the session loop.
final class SessionFlag: Sendable {
    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}
