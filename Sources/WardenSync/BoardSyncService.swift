import Foundation
import Logging
import Mosquitto
import ServiceLifecycle
import Synchronization
import WardenController
import WardenCore
import WardenStore
import WardenWire

/// wardend's MQTT sync as one more service of the group: connects (retrying with jittered back-off until the broker
/// answers; libmosquitto reconnects by itself after that), feeds `BoardSync` the connection events, messages, new
/// audit records and a clock tick, and on shutdown says goodbye and disconnects. The door never waits for it.
///
/// A renewed broker certificate starts a new session: a new MQTT client (a fresh TLS context that reads the new
/// key and certificate) and a new `BoardSync` on the same journal, after a clean DISCONNECT of the old one (no
/// will, so the board does not flicker offline). Audit records appended meanwhile wait in the journal.
public struct BoardSyncService: Service {
    let settings: SyncSettings
    let controller: DoorController<ContinuousClock>
    let journal: AuditJournal
    let logger: Logger
    let firstReconnectDelay: ClosedRange<UInt32>
    let observe: @Sendable (MQTTConnectionEvent) -> Void
    let observeAcknowledgement: @Sendable (Duration) -> Void
    let first: Session
    let renewals: AsyncStream<CertificateRenewal.Installed>
    let renewed: AsyncStream<CertificateRenewal.Installed>.Continuation

    /// One MQTT client and the sync state machine that drives it.
    struct Session: Sendable {
        let client: MQTTClient
        let sync: BoardSync
    }

    /// Builds the client and checks the TLS and credential settings now, so a bad config stops wardend at start.
    /// `observe` sees each connection event (the fleet simulator times reconnects with it) and
    /// `observeAcknowledgement` each audit batch's wait from publish to acknowledgement; `firstReconnectDelay` is
    /// MQTTClient's.
    public init(
        settings: SyncSettings,
        controller: DoorController<ContinuousClock>,
        journal: AuditJournal,
        logger: Logger,
        firstReconnectDelay: ClosedRange<UInt32> = MQTTClient.reconnectBase,
        observe: @escaping @Sendable (MQTTConnectionEvent) -> Void = { _ in },
        observeAcknowledgement: @escaping @Sendable (Duration) -> Void = { _ in }
    ) throws {
        self.settings = settings
        self.controller = controller
        self.journal = journal
        self.logger = logger
        self.firstReconnectDelay = firstReconnectDelay
        self.observe = observe
        self.observeAcknowledgement = observeAcknowledgement
        (renewals, renewed) = AsyncStream.makeStream(of: CertificateRenewal.Installed.self)
        first = try Self.session(
            settings: settings,
            controller: controller,
            journal: journal,
            logger: logger,
            firstReconnectDelay: firstReconnectDelay,
            observeAcknowledgement: observeAcknowledgement,
            renewed: renewed,
            notice: nil
        )
    }

    static func session(
        settings: SyncSettings,
        controller: DoorController<ContinuousClock>,
        journal: AuditJournal,
        logger: Logger,
        firstReconnectDelay: ClosedRange<UInt32>,
        observeAcknowledgement: @escaping @Sendable (Duration) -> Void,
        renewed: AsyncStream<CertificateRenewal.Installed>.Continuation,
        notice: CertificateRenewal.Installed?
    ) throws -> Session {
        let client = try MQTTClient(
            clientID: controller.config.lockID,
            cleanStart: false,
            sessionExpiry: .seconds(7 * 86_400),
            firstReconnectDelay: firstReconnectDelay
        )
        if let ca = settings.caFile {
            try client.configureTLS(caFile: ca, certFile: settings.certFile, keyFile: settings.keyFile)
        }
        if let user = settings.username { try client.setCredentials(username: user, password: try settings.password()) }
        let sync = try BoardSync(
            settings: settings,
            controller: controller,
            journal: journal,
            client: client,
            logger: logger,
            installedNotice: notice,
            onRenewed: { renewed.yield($0) },
            onAcknowledged: observeAcknowledgement
        )
        return Session(client: client, sync: sync)
    }

    /// The session in use and its tasks, swapped when a renewed certificate arrives.
    final class Current: Sendable {
        private let state: Mutex<(session: Session, tasks: Task<Void, Never>?)>
        init(_ s: Session) { state = Mutex((s, nil)) }
        var session: Session { state.withLock { $0.session } }
        /// Installs `next` and its tasks; returns the old session, whose tasks are cancelled.
        func swap(_ next: Session, tasks: Task<Void, Never>?) -> Session {
            state.withLock { st in
                let old = st
                st = (next, tasks)
                old.tasks?.cancel()
                return old.session
            }
        }
    }

    public func run() async throws {
        let records = await controller.watch()
        let current = Current(first)
        _ = current.swap(first, tasks: try await start(first))
        await withTaskGroup(of: Void.self) { group in
            group.addTask { for await r in records { await current.session.sync.appended(r) } }
            group.addTask {
                while !Task.isCancelled {
                    await current.session.sync.tick()
                    try? await Task.sleep(for: .milliseconds(200))
                }
            }
            group.addTask {
                for await notice in renewals {
                    do {
                        let next = try Self.session(
                            settings: settings,
                            controller: controller,
                            journal: journal,
                            logger: logger,
                            firstReconnectDelay: firstReconnectDelay,
                            observeAcknowledgement: observeAcknowledgement,
                            renewed: renewed,
                            notice: notice
                        )
                        let old = current.swap(next, tasks: nil)
                        old.client.disconnect()
                        _ = current.swap(next, tasks: try await start(next))
                    } catch {
                        logger.error(
                            "cannot start a session with the renewed certificate; the old session stays",
                            metadata: ["error": "\(error)"]
                        )
                    }
                }
            }
            try? await gracefulShutdown()
            let last = current.session
            await last.sync.goodbye()
            last.client.disconnect()
            renewed.finish()
            group.cancelAll()
        }
        _ = current.swap(current.session, tasks: nil)
    }

    /// A session's own tasks: its connection events and messages into its sync, and its first connection.
    private func start(_ s: Session) async throws -> Task<Void, Never> {
        let will = await s.sync.will
        try s.client.setWill(topic: will.topic, payload: will.payload)
        let (observe, settings, logger) = (observe, settings, logger)
        return Task {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await event in s.client.connectionEvents {
                        observe(event)
                        switch event {
                        case .connected(let sessionPresent): await s.sync.connected(sessionPresent: sessionPresent)
                        case .disconnected(let code, let reason):
                            await s.sync.disconnected(reason: reason, ownRequest: code == 0)
                        }
                    }
                }
                group.addTask { for await m in s.client.messages { await s.sync.received(m) } }
                group.addTask { await Self.connectUntilAnswered(s.client, settings: settings, logger: logger) }
            }
        }
    }

    /// The first connection: retried with jittered, doubling waits (1-3 s up to about a minute), so a board that
    /// boots before the network or the broker still comes online without a restart.
    private static func connectUntilAnswered(_ client: MQTTClient, settings: SyncSettings, logger: Logger) async {
        var delay = Double.random(in: 1...3)
        while !Task.isCancelled {
            do {
                try await client.connect(host: settings.host, port: settings.port, keepalive: settings.keepAlive)
                return
            } catch {
                logger.warning(
                    "cannot reach the broker; the door decides offline meanwhile",
                    metadata: [
                        "broker": "\(settings.host):\(settings.port)", "error": "\(error)", "retry_s": "\(Int(delay))",
                    ]
                )
            }
            try? await Task.sleep(for: .seconds(delay))
            delay = min(delay * 2, Double.random(in: 45...75))
        }
    }
}
