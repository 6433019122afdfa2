import Foundation
import Logging
import Metrics
import Mosquitto
import ServiceLifecycle
import WardenWire

/// The consumer: one member of the shared subscription `$share/warden-consumers/...` (clean start, no session, so a
/// dead instance leaves the rotation at once), storing what boards send and answering what they ask. Audit batches
/// are acknowledged only after their transaction commits; a consumer killed mid-batch leaves the board to re-send.
public struct CloudConsumer: Service {
    let operations: CloudOperations
    let client: MQTTClient
    let broker: CloudConfig.Broker
    let logger: Logger
    let ingester: AuditIngester
    var store: CloudStore { operations.store }

    public init(
        operations: CloudOperations,
        client: MQTTClient,
        broker: CloudConfig.Broker,
        logger: Logger,
        ingestWorkers: Int = 2
    ) {
        self.operations = operations
        self.client = client
        self.broker = broker
        self.logger = logger
        self.ingester = AuditIngester(store: operations.store, client: client, logger: logger, workers: ingestWorkers)
    }

    static let leaves: [DeviceTopics.Leaf] = [
        .audit, .state, .online, .alarm, .accessRequest, .cmdResult, .timeRequest, .certRequest, .certInstalled,
    ]

    public func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                let connectedGauge = Gauge(label: "warden_cloud_mqtt_connected")
                let reconnects = Counter(label: "warden_cloud_mqtt_reconnects_total")
                var everConnected = false
                for await event in client.connectionEvents {
                    guard case .connected = event else {
                        connectedGauge.record(0)
                        continue
                    }
                    connectedGauge.record(1)
                    if everConnected { reconnects.increment() }
                    everConnected = true
                    // A SUBSCRIBE lost with its connection is not re-sent by libmosquitto: retry until each holds.
                    var pending = Self.leaves
                    while !pending.isEmpty, !Task.isCancelled {
                        var failed: [DeviceTopics.Leaf] = []
                        for leaf in pending {
                            do { try await client.subscribe(topic: DeviceTopics.sharedFilter(leaf)) } catch {
                                failed.append(leaf)
                                logger.warning(
                                    "cannot subscribe yet; retrying",
                                    metadata: ["leaf": "\(leaf.rawValue)", "error": "\(error)"]
                                )
                            }
                        }
                        pending = failed
                        if !pending.isEmpty { try? await Task.sleep(for: .milliseconds(500)) }
                    }
                    logger.info("consumer subscribed", metadata: ["client": "\(client.clientID)"])
                }
            }
            group.addTask { await ingester.run() }
            group.addTask {
                for await m in client.messages {
                    // Audit batches go straight to the ingester's workers, which decode them in parallel.
                    if let (topics, leaf) = DeviceTopics.parse(m.topic), leaf == .audit {
                        ingester.enqueue(topics, m.payload)
                        continue
                    }
                    // Bounded like the ingester's transactions: a wedged database query must not stop the stream.
                    do { try await AuditIngester.bounded(AuditIngester.transactionBound) { await handle(m) } } catch {
                        logger.error(
                            "message handling abandoned",
                            metadata: ["topic": "\(m.topic)", "error": "\(error)"]
                        )
                    }
                }
            }
            group.addTask {
                var delay = 1.0
                while !Task.isCancelled {
                    do {
                        try await client.connect(host: broker.host, port: broker.port, keepalive: .seconds(30))
                        return
                    } catch {
                        logger.warning("cannot reach the broker", metadata: ["error": "\(error)"])
                    }
                    try? await Task.sleep(for: .seconds(delay))
                    delay = min(delay * 2, 30)
                }
            }
            try? await gracefulShutdown()
            client.disconnect()
            group.cancelAll()
        }
    }

    /// One message from a board. Anything from an unregistered device, or that does not follow the contract, is
    /// logged and dropped (a board re-sends what matters).
    public func handle(_ m: MQTTMessage) async {
        guard let (topics, leaf) = DeviceTopics.parse(m.topic), leaf.fromBoard else { return }
        let (org, dev) = (topics.org, topics.dev)
        do {
            if leaf == .audit {
                // Group-committed by the ingester, which also drops unregistered devices (no lookup per message).
                ingester.enqueue(topics, m.payload)
                return
            }
            guard try await store.doorOf(org: org, device: dev) != nil else {
                logger.warning("message from an unregistered device dropped", metadata: ["topic": "\(m.topic)"])
                return
            }
            switch leaf {
            case .audit:
                return
            case .state:
                let status = try WireJSON.decode(ControllerStatus.self, from: m.payload, what: "state")
                try await store.recordState(
                    org: org,
                    device: dev,
                    json: String(decoding: m.payload, as: UTF8.self),
                    appliedVersion: status.accessListVersion
                )
                try await operations.catchUpIfBehind(org: org, device: dev)
            case .online:
                try await store.recordOnline(
                    org: org,
                    device: dev,
                    online: try WireJSON.decode(OnlineStatus.self, from: m.payload, what: "online")
                )
            case .alarm:
                let alarm = try WireJSON.decode(AlarmMessage.self, from: m.payload, what: "alarm")
                try await store.recordAlarm(org: org, device: dev, alarm: alarm)
                logger.notice(
                    "alarm",
                    metadata: ["device": "\(dev)", "kind": "\(alarm.kind)", "reason": "\(alarm.reason ?? "")"]
                )
            case .accessRequest:
                let request = try WireJSON.decode(AccessRequest.self, from: m.payload, what: "access request")
                try await operations.sendSnapshot(org: org, device: dev, because: request)
            case .cmdResult:
                try await store.recordCommandResult(
                    org: org,
                    device: dev,
                    result: try WireJSON.decode(CommandResult.self, from: m.payload, what: "command result")
                )
            case .timeRequest:
                let request = try WireJSON.decode(TimeRequest.self, from: m.payload, what: "time request")
                guard let nonce = Base64URL.decode(request.nonce), nonce.count == 16 else {
                    throw WireError("time request: nonce must be 16 bytes in base64url")
                }
                let jws = try await operations.authority.sign(
                    SignedTime(issuer: operations.authority.name, device: dev, nonce: request.nonce, time: Date())
                )
                try client.send(
                    topic: topics.topic(.time),
                    payload: WireJSON.encode(SignedEnvelope(jws: jws)),
                    properties: MQTTProperties(messageExpiry: 60, correlationData: m.properties.correlationData)
                )
            case .certRequest, .certInstalled:
                guard let provisioner = operations.provisioner else {
                    logger.warning(
                        "certificate renewal asked, but this instance has no device CA",
                        metadata: ["device": "\(dev)"]
                    )
                    return
                }
                if leaf == .certRequest {
                    let request = try WireJSON.decode(
                        CertificateRenewal.Request.self,
                        from: m.payload,
                        what: "certificate request"
                    )
                    let issued = try await provisioner.renew(org: org, device: dev, request: request, now: Date())
                    try client.send(
                        topic: topics.topic(.cert),
                        payload: WireJSON.encode(issued),
                        properties: MQTTProperties(messageExpiry: 3600)
                    )
                } else {
                    let notice = try WireJSON.decode(
                        CertificateRenewal.Installed.self,
                        from: m.payload,
                        what: "certificate installed"
                    )
                    try await provisioner.installed(org: org, device: dev, notice: notice, now: Date())
                }
            case .auditAck, .access, .cmd, .time, .cert:
                return
            }
        } catch {
            logger.warning("message refused", metadata: ["topic": "\(m.topic)", "error": "\(error)"])
        }
    }
}
