import Foundation
import Hummingbird
import NIOCore
import PostgresNIO
import WardenWire

/// Webhooks per org (admins only: a webhook's URL and secret are credentials of the receiving system).
extension ManagerAPI {
    static let webhookEvents: Set<String> = ["alarm", "decision", "board_offline"]

    func registerWebhooks(_ t: inout RouteTable) {
        t.on(.get, "/v1/webhooks") { _, c in
            let caller = try c.caller()
            try Self.requireAdminRole(caller)
            return try APIJSON.response(APIModel.Page(items: try await webhooks(caller, only: nil)))
        }
        t.on(.post, "/v1/webhooks") { r, c in
            let caller = try c.caller()
            try caller.requireAdmin()
            let input = try await APIJSON.decode(APIModel.WebhookInput.self, from: r, context: c)
            return try APIJSON.response(try await createWebhook(input, caller: caller), status: .created)
        }
        t.on(.delete, "/v1/webhooks/{id}") { _, c in
            let caller = try c.caller()
            let id = try Self.pathID(c, what: "webhook")
            guard try await !webhooks(caller, only: id).isEmpty else { throw Problem.notFound("webhook '\(id)'") }
            try caller.requireAdmin()
            try await db.query("DELETE FROM webhooks WHERE org_id = \(caller.org) AND id = \(id)", logger: logger)
            return Self.noContent()
        }
        t.on(.post, "/v1/webhooks/{id}/test") { _, c in
            let caller = try c.caller()
            let id = try Self.pathID(c, what: "webhook")
            guard try await !webhooks(caller, only: id).isEmpty else { throw Problem.notFound("webhook '\(id)'") }
            try caller.requireAdmin()
            return try APIJSON.response(try await testWebhook(id, caller: caller), status: .accepted)
        }
        t.on(.get, "/v1/webhooks/{id}/deliveries") { r, c in
            let caller = try c.caller()
            let id = try Self.pathID(c, what: "webhook")
            guard try await !webhooks(caller, only: id).isEmpty else { throw Problem.notFound("webhook '\(id)'") }
            try Self.requireAdminRole(caller)
            let limit = try APIInput.limit(Self.query(r, "limit"))
            return try APIJSON.response(APIModel.Page(items: try await deliveries(caller, webhook: id, limit: limit)))
        }
    }

    /// Checks and stores a webhook; the answer carries its secret (shown once).
    func createWebhook(_ input: APIModel.WebhookInput, caller: Principal) async throws -> APIModel.Webhook {
        try caller.requireAdmin()
        try Self.checkWebhookURL(input.url)
        let events = input.events ?? ["alarm", "board_offline"]
        guard !events.isEmpty, Set(events).isSubset(of: Self.webhookEvents), Set(events).count == events.count
        else {
            throw Problem.invalid("events", "name each of alarm, decision, board_offline at most once")
        }
        let format = input.format ?? "warden"
        guard format == "warden" || format == "slack" else {
            throw Problem.invalid("format", "must be warden or slack")
        }
        let id = Secrets.id("w")
        let secret = "whsec_" + Secrets.random()
        try await db.withTransaction(logger: logger) { conn in
            try await conn.query(
                """
                INSERT INTO webhooks(org_id, id, url, secret, events, format)
                VALUES (\(caller.org), \(id), \(input.url), \(secret), \(events), \(format))
                """,
                logger: logger
            )
            // The org's events are delivered from now on (not from whenever the queue first looks).
            try await conn.query(
                "INSERT INTO webhook_cursors(org_id) VALUES (\(caller.org)) ON CONFLICT DO NOTHING",
                logger: logger
            )
        }
        logger.notice(
            "webhook created",
            metadata: ["org": "\(caller.org)", "webhook": "\(id)", "by": "\(caller.user)"]
        )
        var model = try await webhooks(caller, only: id)[0]
        model.secret = secret
        return model
    }

    /// Queues a test delivery to one of the org's webhooks.
    func testWebhook(_ id: String, caller: Principal) async throws -> APIModel.WebhookDelivery {
        guard try await !webhooks(caller, only: id).isEmpty else { throw Problem.notFound("webhook '\(id)'") }
        try caller.requireAdmin()
        let payload = #"{"message":"a test delivery from Warden","requested_by":"\#(caller.user)"}"#
        let rows = try await rows(
            """
            INSERT INTO webhook_deliveries(org_id, webhook_id, event, payload)
            VALUES (\(caller.org), \(id), 'test', \(payload)) RETURNING id
            """
        )
        let delivery = try rows.first?.decode(Int64.self) ?? 0
        return try await deliveries(caller, webhook: id, only: delivery)[0]
    }

    static func requireAdminRole(_ caller: Principal) throws(Problem) {
        guard caller.role == .admin else { throw Problem(.forbidden, "only an org admin sees webhooks") }
    }

    static func checkWebhookURL(_ url: String) throws(Problem) {
        guard url.count <= 2000, let u = URL(string: url), let scheme = u.scheme?.lowercased(),
            scheme == "https" || scheme == "http", let host = u.host, !host.isEmpty, u.user == nil
        else { throw Problem.invalid("url", "must be an http or https URL with a host (and no user:password)") }
    }

    func webhooks(_ caller: Principal, only: String?) async throws -> [APIModel.Webhook] {
        guard caller.role == .admin || only != nil else { return [] }
        return try await rows(
            """
            SELECT id, url, events, format, disabled, created_at FROM webhooks WHERE org_id = \(caller.org)
            AND (\(only)::text IS NULL OR id = \(only)) ORDER BY created_at, id
            """
        ).map { row in
            let r = try row.decode((String, String, [String], String, Bool, Date).self)
            return APIModel.Webhook(
                id: r.0,
                url: r.1,
                events: r.2,
                format: r.3,
                disabled: r.4,
                createdAt: r.5,
                secret: nil
            )
        }
    }

    func deliveries(
        _ caller: Principal,
        webhook: String,
        only: Int64? = nil,
        limit: Int = 100
    ) async throws
        -> [APIModel.WebhookDelivery]
    {
        try await rows(
            """
            SELECT id, event, status, attempts, last_status, last_error, created_at, delivered_at FROM webhook_deliveries
            WHERE org_id = \(caller.org) AND webhook_id = \(webhook) AND (\(only)::bigint IS NULL OR id = \(only))
            ORDER BY id DESC LIMIT \(limit)
            """
        ).map { row in
            let r = try row.decode((Int64, String, String, Int32, Int32?, String?, Date, Date?).self)
            return APIModel.WebhookDelivery(
                id: r.0,
                event: r.1,
                status: r.2,
                attempts: Int(r.3),
                lastStatus: r.4.map(Int.init),
                lastError: r.5,
                createdAt: r.6,
                deliveredAt: r.7
            )
        }
    }
}
