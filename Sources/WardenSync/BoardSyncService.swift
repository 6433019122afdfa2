import Foundation
import Logging
import Mosquitto
import ServiceLifecycle
import WardenController
import WardenCore
import WardenStore
import WardenWire

/// wardend's MQTT sync as one more service of the group: connects (retrying with jittered back-off until the broker
/// answers; libmosquitto reconnects by itself after that), feeds `BoardSync` the connection events, messages, new
/// audit records and a clock tick, and on shutdown says goodbye and disconnects. The door never waits for it.
public struct BoardSyncService: Service {
    let settings: SyncSettings
    let client: MQTTClient
    let sync: BoardSync
    let controller: DoorController<ContinuousClock>
    let logger: Logger
    let observe: @Sendable (MQTTConnectionEvent) -> Void

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
        let lockID = controller.config.lockID
        let client = try MQTTClient(
            clientID: lockID,
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
            onAcknowledged: observeAcknowledgement
        )
        self.settings = settings
        self.client = client
        self.sync = sync
        self.controller = controller
        self.logger = logger
        self.observe = observe
    }

    public func run() async throws {
        let will = await sync.will
        try client.setWill(topic: will.topic, payload: will.payload)
        let records = await controller.watch()
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await event in client.connectionEvents {
                    observe(event)
                    switch event {
                    case .connected(let sessionPresent): await sync.connected(sessionPresent: sessionPresent)
                    case .disconnected(let code, let reason):
                        await sync.disconnected(reason: reason, ownRequest: code == 0)
                    }
                }
            }
            group.addTask { for await m in client.messages { await sync.received(m) } }
            group.addTask { for await r in records { await sync.appended(r) } }
            group.addTask {
                while !Task.isCancelled {
                    await sync.tick()
                    try? await Task.sleep(for: .milliseconds(200))
                }
            }
            group.addTask { await connectUntilAnswered() }
            try? await gracefulShutdown()
            await sync.goodbye()
            client.disconnect()
            group.cancelAll()
        }
    }

    /// The first connection: retried with jittered, doubling waits (1-3 s up to about a minute), so a board that
    /// boots before the network or the broker still comes online without a restart.
    private func connectUntilAnswered() async {
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
