import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import PostgresNIO
import ServiceLifecycle
import WardenWire

/// Delivers the org's events to its webhooks: alarms, decisions and boards going offline, found in the database
/// (so every instance sees every board) and queued as deliveries; then each delivery POSTed, signed
/// (`WebhookSignature`), retried with doubling waits up to `maxAttempts`, every attempt in the delivery log.
/// Instances share the work safely: the queueing cursor is a locked row and deliveries are claimed with
/// `FOR UPDATE SKIP LOCKED`.
public struct WebhookService: Service {
    let db: PostgresClient
    let logger: Logger
    let interval: Duration
    let baseDelay: Duration
    let maxAttempts: Int
    let connectTimeout: Duration

    public init(
        db: PostgresClient,
        logger: Logger,
        interval: Duration = .milliseconds(500),
        baseDelay: Duration = .seconds(5),
        maxAttempts: Int = 8,
        connectTimeout: Duration = .seconds(5)
    ) {
        self.db = db
        self.logger = logger
        self.interval = interval
        self.baseDelay = baseDelay
        self.maxAttempts = maxAttempts
        self.connectTimeout = connectTimeout
    }

    /// The receivers are the org's servers, not ours: a refused connection fails the attempt at once (the delivery's
    /// own back-off retries it) instead of AsyncHTTPClient's default of re-dialling until the deadline, and a
    /// redirect is an answer, never followed to wherever it points.
    func makeClient() -> HTTPClient {
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(connect: .nanoseconds(Int64(connectTimeout / .nanoseconds(1))), read: .seconds(10))
        )
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }

    public func run() async throws {
        let client = makeClient()
        await PeriodicPass.run(every: interval, logger: logger, what: "webhooks: a round") {
            // A shutdown cancels the sends in flight; their rows stay `sending` and are claimed again a minute
            // later, so a stop never waits on a slow receiver and never loses a delivery.
            try await cancelWhenGracefulShutdown {
                try await enqueue()
                try await deliverDue(client: client)
            }
        }
        try? await client.shutdown()
    }

    struct Event: Codable, Sendable {
        var type: String
        var door: String?
        var device: String
        var seq: Int64?
        var at: Date
        var kind: String?
        var user: String?
        var reason: String?
        /// The person's and the door's names beside the ids: a channel reads "Rita Ruiz", not "u4462…".
        var userName: String?
        var doorName: String?
    }

    /// For each org with webhooks: its new events since its cursor, one delivery per matching webhook, in one
    /// transaction with the cursor's move (the row lock keeps two instances from queueing an event twice). Events
    /// stored more than ten minutes after they happened (a board catching up after an outage) are in the audit
    /// trail but not pushed: a webhook is for what is happening now.
    func enqueue() async throws {
        var orgs: [String] = []
        for try await org in try await db.query(
            "SELECT DISTINCT org_id FROM webhooks WHERE NOT disabled",
            logger: logger
        ).decode(String.self) {
            orgs.append(org)
        }
        for org in orgs { try await enqueue(org: org) }
    }

    func enqueue(org: String) async throws {
        try await db.withTransaction(logger: logger) { conn in
            try await conn.query(
                "INSERT INTO webhook_cursors(org_id) VALUES (\(org)) ON CONFLICT DO NOTHING",
                logger: logger
            )
            var cursor = Date()
            var devicesCursor = Date()
            for try await (c, d) in try await conn.query(
                "SELECT events_at, devices_at FROM webhook_cursors WHERE org_id = \(org) FOR UPDATE",
                logger: logger
            ).decode((Date, Date).self) {
                (cursor, devicesCursor) = (c, d)
            }
            var events: [(Event, Date)] = []
            for try await r in try await conn.query(
                """
                SELECT e.door_id, e.device_id, e.seq, e.at_ms, e.kind, e.user_id, e.reason, e.received_at, u.name, d.name
                FROM audit_events e
                LEFT JOIN users u ON u.org_id = e.org_id AND u.id = e.user_id
                LEFT JOIN doors d ON d.org_id = e.org_id AND d.id = e.door_id
                WHERE e.org_id = \(org) AND e.at > now() - interval '10 minutes' AND e.received_at > \(cursor)
                AND e.kind = ANY(\([AuditKind.alarm.rawValue, AuditKind.accessGranted.rawValue, AuditKind.accessDenied.rawValue]))
                ORDER BY e.received_at LIMIT 1000
                """,
                logger: logger
            ).decode((String?, String, Int64, Int64, String, String?, String?, Date, String?, String?).self) {
                let event = Event(
                    type: r.4 == AuditKind.alarm.rawValue ? "alarm" : "decision",
                    door: r.0,
                    device: r.1,
                    seq: r.2,
                    at: Date(timeIntervalSince1970: Double(r.3) / 1000),
                    kind: r.4,
                    user: r.5,
                    reason: r.6,
                    userName: r.8,
                    doorName: r.9
                )
                events.append((event, r.7))
            }
            var offline: [(Event, Date)] = []
            for try await r in try await conn.query(
                """
                SELECT v.door_id, v.id, v.last_seen, d.name FROM devices v
                LEFT JOIN doors d ON d.org_id = v.org_id AND d.id = v.door_id
                WHERE v.org_id = \(org) AND NOT v.online
                AND v.last_seen > \(devicesCursor) AND v.decommissioned_at IS NULL ORDER BY v.last_seen LIMIT 1000
                """,
                logger: logger
            ).decode((String, String, Date, String?).self) {
                offline.append((Event(type: "board_offline", door: r.0, device: r.1, at: r.2, doorName: r.3), r.2))
            }
            for (event, _) in events + offline {
                let payload = String(decoding: try APIJSON.encoder.encode(event), as: UTF8.self)
                try await conn.query(
                    """
                    INSERT INTO webhook_deliveries(org_id, webhook_id, event, payload)
                    SELECT org_id, id, \(event.type), \(payload) FROM webhooks
                    WHERE org_id = \(org) AND NOT disabled AND \(event.type) = ANY(events)
                    """,
                    logger: logger
                )
            }
            try await conn.query(
                """
                UPDATE webhook_cursors SET events_at = \(events.last?.1 ?? cursor),
                    devices_at = \(offline.last?.1 ?? devicesCursor) WHERE org_id = \(org)
                """,
                logger: logger
            )
        }
    }

    /// Claims the due deliveries (and any left half-sent by a stopped instance) and sends them concurrently.
    func deliverDue(client: HTTPClient) async throws {
        var due: [(Int64, String, String, String, String, String, String, Int32)] = []
        for try await r in try await db.query(
            """
            UPDATE webhook_deliveries d SET status = 'sending', attempts = d.attempts + 1, next_at = now()
            FROM webhooks w
            WHERE d.id IN (SELECT id FROM webhook_deliveries
                WHERE (status = 'pending' AND next_at <= now()) OR (status = 'sending' AND next_at < now() - interval '1 minute')
                ORDER BY next_at LIMIT 50 FOR UPDATE SKIP LOCKED)
            AND w.org_id = d.org_id AND w.id = d.webhook_id
            RETURNING d.id, d.org_id, d.event, d.payload, w.url, w.secret, w.format, d.attempts
            """,
            logger: logger
        ).decode((Int64, String, String, String, String, String, String, Int32).self) {
            due.append(r)
        }
        guard !due.isEmpty else { return }
        await withTaskGroup(of: Void.self) { group in
            for d in due { group.addTask { await self.send(d, client: client) } }
        }
    }

    func send(
        _ d: (
            id: Int64, org: String, event: String, payload: String, url: String, secret: String, format: String,
            attempts: Int32
        ),
        client: HTTPClient
    ) async {
        let body = Array(
            Self.body(id: d.id, org: d.org, event: d.event, payload: d.payload, slack: d.format == "slack").utf8
        )
        var request = HTTPClientRequest(url: d.url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "warden-cloud-webhooks/1")
        request.headers.add(name: "Warden-Event", value: d.event)
        request.headers.add(name: "Warden-Delivery", value: String(d.id))
        request.headers.add(
            name: WebhookSignature.header,
            value: WebhookSignature.sign(body: body, secret: d.secret, at: Date())
        )
        request.body = .bytes(ByteBuffer(bytes: body))
        var status: Int?
        var error: String?
        do {
            let response = try await client.execute(request, timeout: .seconds(10))
            status = Int(response.status.code)
            _ = try? await response.body.collect(upTo: 4096)
        } catch let e {
            error = String(describing: e).prefix(300).description
        }
        // Stopped mid-send: the row stays `sending` and another round claims it again after a minute.
        if Task.isCancelled { return }
        let ok = status.map { (200..<300).contains($0) } ?? false
        let last = !ok && Int(d.attempts) >= maxAttempts
        let wait = baseDelay * Int(1 << min(Int(d.attempts) - 1, 10))
        let next = Date().addingTimeInterval(wait / .seconds(1))
        do {
            try await db.query(
                """
                UPDATE webhook_deliveries SET status = \(ok ? "delivered" : last ? "failed" : "pending"),
                    last_status = \(status), last_error = \(error ?? (ok ? nil : "HTTP \(status ?? 0)")),
                    next_at = \(next), delivered_at = \(ok ? Date() : nil)
                WHERE id = \(d.id)
                """,
                logger: logger
            )
        } catch {
            logger.warning("webhooks: cannot record a delivery's result", metadata: ["delivery": "\(d.id)"])
        }
        if !ok {
            logger.info(
                "webhook delivery failed",
                metadata: [
                    "delivery": "\(d.id)", "attempt": "\(d.attempts)", "status": "\(status ?? 0)", "final": "\(last)",
                ]
            )
        }
    }

    /// Our own envelope, or Slack's incoming-webhook `{"text": …}` for a channel.
    static func body(id: Int64, org: String, event: String, payload: String, slack: Bool) -> String {
        if slack {
            let e = (try? APIJSON.decoder.decode(Event.self, from: Data(payload.utf8)))
            let text: String
            let door = e?.doorName ?? e?.door ?? "?"
            let why = (e?.reason ?? e?.kind).map(DashboardLabels.words)
            switch event {
            case "test": text = "Warden: test delivery for \(org)"
            case "board_offline": text = "Warden: board \(e?.device ?? "?") at \(door) went offline"
            case "alarm": text = "Warden alarm at \(door): \(why ?? "alarm")"
            default:
                let granted = e?.kind == AuditKind.accessGranted.rawValue
                text =
                    "Warden: \(e?.userName ?? e?.user ?? "an unknown credential") \(granted ? "granted" : "denied") at \(door)"
                    + (granted ? "" : (e?.reason).map { " (\(DashboardLabels.words($0)))" } ?? "")
            }
            let data = (try? JSONEncoder().encode(["text": text])) ?? Data()
            return String(decoding: data, as: UTF8.self)
        }
        return #"{"data":\#(payload),"id":\#(id),"org":"\#(org)","type":"\#(event)"}"#
    }
}
