import Crypto
import Foundation
import Logging
import Metrics
import Mosquitto
import OpenSSLX509
import WardenController
import WardenCore
import WardenStore
import WardenWire

/// The board's half of docs/mqtt.md, over one MQTT connection: audit upload from the journal (freed only by an
/// acknowledgement after the cloud's commit whose hash matches), signed access-list updates, signed commands,
/// signed time, retained state and alarms. Every decision stays on the door's actor; this only carries messages
/// to and from it, so a broker or cloud that misbehaves can delay things, never open the door.
public actor BoardSync {
    public let topics: DeviceTopics
    private let settings: SyncSettings
    private let controller: DoorController<ContinuousClock>
    private let journal: AuditJournal
    private let authority: AuthorityKeySet
    private let client: MQTTClient
    private let logger: Logger
    private let clock = ContinuousClock()
    private let start: ContinuousClock.Instant
    /// A random id per start of wardend (in `online`, the will and every batch).
    public let boot = UUID().uuidString.lowercased()

    private var uploader: AuditUploader
    private var timeTracker = TimeRequestTracker()
    private var connected = false
    private var lastState: ControllerStatus?
    private var lastStateAt: Duration = .zero
    /// When a snapshot was last asked for, per reason: a flood of forged updates costs one request per 10 s.
    private var lastSnapshotRequest: [AccessRequest.Reason: Duration] = [:]
    private var mismatchAlarmed = false
    /// Sees each batch's wait from publish to the acknowledgement after the cloud's commit.
    private let onAcknowledged: @Sendable (Duration) -> Void
    private let metrics = SyncMetrics()
    private var everConnected = false
    /// Broker-certificate renewal, when the board connects with a client certificate.
    private var renewer: CertificateRenewer?
    /// Sent once connected with a renewed certificate (signed by its key): the cloud then revokes the old one.
    private var installedNotice: CertificateRenewal.Installed?
    /// Hands a renewed certificate's notice to the service, which starts a session with it.
    private let onRenewed: @Sendable (CertificateRenewal.Installed) -> Void

    public init(
        settings: SyncSettings,
        controller: DoorController<ContinuousClock>,
        journal: AuditJournal,
        client: MQTTClient,
        logger: Logger,
        installedNotice: CertificateRenewal.Installed? = nil,
        onRenewed: @escaping @Sendable (CertificateRenewal.Installed) -> Void = { _ in },
        onAcknowledged: @escaping @Sendable (Duration) -> Void = { _ in }
    ) throws {
        self.onAcknowledged = onAcknowledged
        self.onRenewed = onRenewed
        self.installedNotice = installedNotice
        self.settings = settings
        self.controller = controller
        self.journal = journal
        self.authority = controller.config.authority
        self.client = client
        self.logger = logger
        self.topics = try DeviceTopics(org: settings.org, dev: controller.config.lockID)
        self.start = clock.now
        self.uploader = AuditUploader(acknowledged: try journal.acknowledgedSeq(), ackTimeout: settings.ackTimeout)
        if let cert = settings.certFile, let key = settings.keyFile {
            do {
                renewer = try CertificateRenewer(
                    device: controller.config.lockID,
                    certFile: cert,
                    keyFile: key,
                    renewBefore: settings.renewBefore,
                    lastInstalled: installedNotice.map { Date(timeIntervalSince1970: TimeInterval($0.at)) }
                )
            } catch {
                logger.error(
                    "the broker certificate cannot be renewed from here; renew it by provisioning again",
                    metadata: ["error": "\(error)"]
                )
            }
        }
    }

    private var now: Duration { start.duration(to: clock.now) }

    /// The will: what the broker says for us when the connection dies without a goodbye.
    public var will: (topic: String, payload: [UInt8]) {
        (topics.topic(.online), WireJSON.encode(OnlineStatus(online: false, boot: boot)))
    }

    /// The topics the board listens on (its own only: the broker's ACL allows no others).
    public var subscriptions: [String] {
        ([.auditAck, .access, .cmd, .time] + (renewer == nil ? [] : [.cert])).map { topics.topic($0) }
    }

    // MARK: connection

    public func connected(sessionPresent: Bool) async {
        connected = true
        metrics.connected.record(1)
        if everConnected { metrics.reconnects.increment() }
        everConnected = true
        if !sessionPresent { unsubscribed = Set(subscriptions) }
        await subscribe()
        send(.online, OnlineStatus(online: true, boot: boot, atMillis: nowMillis), retain: true)
        uploader.restart()
        await publishState(force: true)
        let status = await controller.status()
        if status.accessListVersion <= 0 { requestSnapshot(have: max(0, status.accessListVersion), reason: .start) }
        if !(await controller.timeIsTrusted) { requestTime() }
        if let notice = installedNotice {
            send(.certInstalled, notice, expiry: 86_400)
            installedNotice = nil
            logger.notice("connected with the renewed broker certificate", metadata: ["serial": "\(notice.serial)"])
        }
        pump()
        logger.info(
            "connected to the broker",
            metadata: ["session": "\(sessionPresent)", "acknowledged": "\(uploader.acknowledged)"]
        )
    }

    /// Topics this connection has not subscribed to yet (a SUBSCRIBE lost with its connection is not re-sent by
    /// libmosquitto): retried on every tick while connected, or all again on a session the broker did not keep.
    private var unsubscribed: Set<String> = []

    private func subscribe() async {
        for t in unsubscribed.sorted() {
            guard connected else { return }
            do {
                try await client.subscribe(topic: t)
                unsubscribed.remove(t)
            } catch {
                logger.warning("cannot subscribe yet; retrying", metadata: ["topic": "\(t)", "error": "\(error)"])
            }
        }
    }

    /// `ownRequest`: the connection ended because this process disconnected (a stop), not because it was lost.
    public func disconnected(reason: String, ownRequest: Bool = false) {
        guard connected else { return }
        connected = false
        metrics.connected.record(0)
        if ownRequest {
            logger.info("disconnected from the broker", metadata: ["reason": "\(reason)"])
        } else {
            logger.warning("lost the broker; the door keeps deciding offline", metadata: ["reason": "\(reason)"])
        }
    }

    /// Before a clean stop: the retained `online` says offline (a clean DISCONNECT sends no will).
    /// Waits for the broker's PUBACK at most `limit`: a broker that dies or stops answering just then must not keep
    /// wardend from stopping (it did: SIGTERM, then the broker killed, and wardend waited for the PUBACK forever).
    /// Without the goodbye the broker publishes the will, which says the same.
    public func goodbye(within limit: Duration = .seconds(2)) async {
        guard connected else { return }
        let (client, topic) = (client, topics.topic(.online))
        let payload = WireJSON.encode(OnlineStatus(online: false, boot: boot, atMillis: nowMillis))
        await withTaskGroup(of: Void.self) { group in
            group.addTask { _ = try? await client.publish(topic: topic, payload: payload, retain: true) }
            group.addTask { try? await Task.sleep(for: limit) }
            await group.next()
            group.cancelAll()
        }
    }

    // MARK: periodic work

    /// Every few hundred milliseconds: overdue acknowledgements, new durable records, periodic state and time.
    public func tick() async {
        guard connected else { return }
        if !unsubscribed.isEmpty { await subscribe() }
        renewIfDue()
        if uploader.checkTimeout(at: now) {
            metrics.resends.increment()
            logger.notice(
                "audit acknowledgement overdue; re-sending from the oldest unacknowledged record",
                metadata: ["after": "\(uploader.acknowledged)", "next_wait": "\(uploader.timeout)"]
            )
        }
        pump()
        metrics.upload(
            durable: journal.durableSeq,
            acknowledged: uploader.acknowledged,
            batchesInFlight: uploader.batchesInFlight
        )
        if now - lastStateAt >= settings.stateInterval { await publishState(force: true) }
        if !timeTracker.waiting(at: now), !(await controller.timeIsTrusted) { requestTime() }
    }

    /// Sends batches while the window allows: consecutive durable records, at most 100 and 64 KiB a batch.
    private func pump() {
        while connected, let after = uploader.nextBatch(durable: journal.durableSeq) {
            let records: [AuditRecord]
            do { records = try journal.records(after: after, limit: AuditBatch.maxRecords) } catch {
                logger.error("cannot read the journal for upload", metadata: ["error": "\(error)"])
                return
            }
            guard let first = records.first, first.seq == after + 1 else {
                if let first = records.first {
                    // Records pruned before the cloud had them (store full): continue after the gap, which the
                    // journal's own gap record reports to the cloud.
                    uploader.acknowledge(upTo: first.seq - 1)
                    continue
                }
                return
            }
            var wire = records.map(\.wire)
            var payload = WireJSON.encode(AuditBatch(boot: boot, records: wire))
            while payload.count > AuditBatch.maxBytes, wire.count > 1 {
                wire.removeLast(wire.count / 2)
                payload = WireJSON.encode(AuditBatch(boot: boot, records: wire))
            }
            do {
                try client.send(topic: topics.topic(.audit), payload: payload)
            } catch {
                logger.warning("cannot queue an audit batch; retried later", metadata: ["error": "\(error)"])
                return
            }
            uploader.sent(first: wire[0].seq, last: wire[wire.count - 1].seq, at: now)
        }
    }

    /// An appended record (from the door's watch stream): alarms go out at once, state when it changed.
    public func appended(_ record: AuditRecord) async {
        guard connected else { return }
        switch record.event.kind {
        case .alarm, .alarmCleared:
            send(
                .alarm,
                AlarmMessage(
                    seq: record.seq,
                    atMillis: record.timeMillis,
                    kind: record.event.kind.rawValue,
                    reason: record.event.reason,
                    detail: record.event.detail
                ),
                expiry: 86_400
            )
            await publishState(force: false)
        case .relay, .mode, .input, .config, .command:
            await publishState(force: false)
        default: break
        }
    }

    // MARK: incoming

    public func received(_ message: MQTTMessage) async {
        guard let (t, leaf) = DeviceTopics.parse(message.topic), t == topics else {
            await controller.refused("message", detail: "on a topic that is not this board's: \(message.topic)")
            return
        }
        switch leaf {
        case .auditAck: await auditAck(message.payload)
        case .access: await access(message.payload)
        case .cmd: await command(message.payload)
        case .time: await time(message.payload)
        case .cert: certificate(message.payload)
        default:
            logger.debug("ignored a message on a board-to-cloud topic", metadata: ["topic": "\(message.topic)"])
        }
    }

    private func auditAck(_ payload: [UInt8]) async {
        let ack: AuditAck
        do { ack = try WireJSON.decode(AuditAck.self, from: payload, what: "audit acknowledgement") } catch {
            await controller.refused("audit_ack", detail: "\(error)")
            return
        }
        guard ack.upToSeq > uploader.acknowledged else { return }  // a repeat or an old one
        guard ack.upToSeq <= journal.durableSeq else {
            await controller.refused("audit_ack", detail: "acknowledges seq \(ack.upToSeq), past the last record")
            return
        }
        let mine: [UInt8]?
        do { mine = try journal.hash(of: ack.upToSeq) } catch {
            logger.error("cannot read the journal to check an acknowledgement", metadata: ["error": "\(error)"])
            return
        }
        guard let mine, Hex.encode(mine) == ack.hash.lowercased() else {
            if !mismatchAlarmed {
                mismatchAlarmed = true
                await controller.syncAlarm(
                    .auditChainMismatch,
                    detail:
                        "the cloud acknowledged seq \(ack.upToSeq) with hash \(ack.hash.prefix(16))…, which is not this board's record; nothing freed"
                )
            }
            return
        }
        do { try journal.acknowledge(upTo: ack.upToSeq) } catch {
            logger.error("cannot mark records acknowledged", metadata: ["error": "\(error)"])
            return
        }
        for wait in uploader.roundTrips(upTo: ack.upToSeq, at: now) {
            metrics.ackWait.recordNanoseconds(
                wait.components.seconds * 1_000_000_000 + wait.components.attoseconds / 1_000_000_000
            )
            onAcknowledged(wait)
        }
        uploader.acknowledge(upTo: ack.upToSeq)
        pump()
    }

    private func access(_ payload: [UInt8]) async {
        let envelope: SignedEnvelope
        do { envelope = try WireJSON.decode(SignedEnvelope.self, from: payload, what: "access-list update") } catch {
            await controller.refused("access_list", detail: "\(error)")
            return
        }
        if let claimed = Self.peekVersion(envelope.jws), claimed.snapshot,
            claimed.ver == (await controller.status().accessListVersion)
        {
            // The same version again (a snapshot request and a catch-up crossed): nothing to apply.
            logger.debug("snapshot of the applied version ignored", metadata: ["version": "\(claimed.ver)"])
            return
        }
        do {
            let version = try await controller.applyAccessList(token: envelope.jws)
            logger.info("applied a signed access-list update", metadata: ["version": "\(version)"])
            await publishState(force: true)
        } catch let error as JWSError {
            logger.warning("refused an access-list update; asking for a snapshot", metadata: ["error": "\(error)"])
            requestSnapshot(have: await controller.status().accessListVersion, reason: .badSignature)
        } catch let error as StoreError where error.code == .versionGap {
            let have = await controller.status().accessListVersion
            if let ver = Self.peekVersion(envelope.jws)?.ver, ver > have {
                requestSnapshot(have: have, reason: .gap)
            } else {
                logger.info(
                    "ignored an access-list update older than the applied one",
                    metadata: ["applied": "\(have)"]
                )
            }
        } catch {
            logger.warning("refused an access-list update", metadata: ["error": "\(error)"])
        }
    }

    /// The version an update claims, read without verifying (only to decide whether a snapshot is worth asking for;
    /// nothing is applied from it).
    static func peekVersion(_ token: String) -> (ver: Int64, snapshot: Bool)? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let data = Base64URL.decode(parts[1]),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let ver = (object["ver"] as? NSNumber)?.int64Value
        else { return nil }
        return (ver, (object["snapshot"] as? Bool) ?? false)
    }

    private func command(_ payload: [UInt8]) async {
        let envelope: SignedEnvelope
        do { envelope = try WireJSON.decode(SignedEnvelope.self, from: payload, what: "command") } catch {
            await controller.refused("command", detail: "\(error)")
            send(.cmdResult, CommandResult(jti: "", code: .malformed, detail: "\(error)"), expiry: 86_400)
            return
        }
        let (result, executed) = await controller.execute(commandToken: envelope.jws)
        send(.cmdResult, result, expiry: 86_400)
        if executed?.cmd == .sync {
            uploader.restart()
            await publishState(force: true)
            requestSnapshot(have: await controller.status().accessListVersion, reason: .start, throttled: false)
            requestTime()
            pump()
        }
    }

    private func time(_ payload: [UInt8]) async {
        let answer: SignedTime
        do {
            let envelope = try WireJSON.decode(SignedEnvelope.self, from: payload, what: "time answer")
            answer = try SignedTime.verified(envelope.jws, authority: authority)
        } catch {
            await controller.refused("time", detail: "\(error)")
            return
        }
        switch timeTracker.answer(answer, device: topics.dev, at: now) {
        case .accept(let roundTrip):
            let reference = answer.time.addingTimeInterval((roundTrip / .seconds(1)) / 2)
            await controller.syncTime(reference: reference, detail: "signed by \(answer.iss), round trip \(roundTrip)")
        case .refuse(let why):
            await controller.refused("time", detail: why)
        }
    }

    // MARK: outgoing

    private var nowMillis: Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    // MARK: broker certificate renewal

    private func renewIfDue() {
        guard var r = renewer else { return }
        do {
            if let request = try r.requestIfDue(now: Date()) {
                send(.certRequest, request, expiry: 3600)
                logger.notice(
                    "asked the cloud to renew the broker certificate",
                    metadata: ["serial": "\(r.serial)", "not_after": "\(r.current.notValidAfter)"]
                )
            }
        } catch {
            logger.error("cannot ask for a renewed broker certificate", metadata: ["error": "\(error)"])
        }
        renewer = r
    }

    /// The cloud's renewed certificate: checked against the request and the files switched; the service then
    /// starts a new session with them (a new client and TLS context). The door decides throughout; audit waits in
    /// the journal for the new connection as after any network loss.
    private func certificate(_ payload: [UInt8]) {
        guard var r = renewer else { return }
        do {
            let issued = try WireJSON.decode(CertificateRenewal.Issued.self, from: payload, what: "certificate")
            let notice = try r.install(issued, now: Date())
            renewer = r
            logger.notice("broker certificate renewed; reconnecting with it", metadata: ["serial": "\(issued.serial)"])
            onRenewed(notice)
        } catch {
            renewer = r
            logger.error("refused a renewed broker certificate", metadata: ["error": "\(error)"])
        }
    }

    private func send(_ leaf: DeviceTopics.Leaf, _ value: some Encodable, retain: Bool = false, expiry: UInt32? = nil) {
        do {
            try client.send(
                topic: topics.topic(leaf),
                payload: WireJSON.encode(value),
                retain: retain,
                properties: MQTTProperties(messageExpiry: expiry)
            )
        } catch {
            logger.warning("cannot queue a message", metadata: ["topic": "\(leaf.rawValue)", "error": "\(error)"])
        }
    }

    /// Retained state when it changed (ignoring the audit counters, which change with every record) or when forced.
    private func publishState(force: Bool) async {
        let status = await controller.status()
        var comparable = status
        comparable.auditLastSeq = 0
        comparable.auditDurableSeq = 0
        comparable.auditPending = 0
        guard force || comparable != lastState else { return }
        lastState = comparable
        lastStateAt = now
        send(.state, status, retain: true)
    }

    private func requestSnapshot(have: Int64, reason: AccessRequest.Reason, throttled: Bool = true) {
        if throttled, let last = lastSnapshotRequest[reason], now - last < .seconds(10) { return }
        lastSnapshotRequest[reason] = now
        send(.accessRequest, AccessRequest(have: max(0, have), reason: reason), expiry: 86_400)
    }

    private func requestTime() {
        var bytes = [UInt8](repeating: 0, count: 16)
        var rng = SystemRandomNumberGenerator()
        for i in bytes.indices { bytes[i] = rng.next() }
        let nonce = Base64URL.encode(bytes)
        timeTracker.requested(nonce: nonce, at: now)
        do {
            try client.send(
                topic: topics.topic(.timeRequest),
                payload: WireJSON.encode(TimeRequest(nonce: nonce)),
                properties: MQTTProperties(messageExpiry: 60, correlationData: bytes)
            )
        } catch {
            logger.warning("cannot queue a time request", metadata: ["error": "\(error)"])
        }
    }
}
