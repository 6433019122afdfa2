import Foundation
import Hummingbird
import NIOCore
import PostgresNIO
import ServiceLifecycle
import WardenWire

/// Server-sent events for the dashboard and integrators: a door's state when it changes, decisions and alarms as
/// they are stored. Read from the database twice a second, so every instance behind a load balancer shows every
/// board (the MQTT consumers share the boards between them; an in-process feed would show a slice).
extension ManagerAPI {
    static let eventInterval: Duration = .milliseconds(500)
    /// A stream ends after this long (or `?seconds=` when given) and the browser's EventSource reconnects: no
    /// response lives forever, and a graceful shutdown never waits more than one interval for a stream.
    static let eventStreamLifetime: Duration = .seconds(600)

    func registerEvents(_ t: inout RouteTable) {
        t.on(.get, "/v1/events") { r, c in
            let caller = try c.caller()
            let lifetime: Duration =
                try Self.query(r, "seconds").map { s throws(Problem) in
                    guard let n = Int(s), (1...600).contains(n) else {
                        throw Problem.invalid("seconds", "must be an integer from 1 to 600")
                    }
                    return .seconds(n)
                } ?? Self.eventStreamLifetime
            let api = self
            let body = ResponseBody { writer in
                try await api.streamEvents(caller, for: lifetime, to: &writer)
                try await writer.finish(nil)
            }
            return Response(
                status: .ok,
                headers: [.contentType: "text/event-stream", .cacheControl: "no-store"],
                body: body
            )
        }
    }

    struct DecisionEvent: Codable, Sendable {
        var door: String?
        var device: String
        var seq: Int64
        var at: Date
        var kind: String
        var result: String?
        var user: String?
        var reason: String?
    }

    func streamEvents(_ caller: Principal, for lifetime: Duration, to writer: inout any ResponseBodyWriter) async throws
    {
        func send(_ event: String, _ value: some Encodable) async throws {
            let json = String(decoding: try APIJSON.encoder.encode(value), as: UTF8.self)
            try await writer.write(ByteBuffer(string: "event: \(event)\ndata: \(json)\n\n"))
        }
        try await writer.write(ByteBuffer(string: "retry: 2000\n\n"))
        var states: [String: APIModel.Door] = [:]
        var since = Date()
        let end = ContinuousClock.now + lifetime
        var beat = ContinuousClock.now
        while ContinuousClock.now < end, !Task.isCancelled, !Task.isShuttingDownGracefully {
            for door in try await doors(caller, site: nil) where states[door.id] != door {
                states[door.id] = door
                try await send("door", door)
            }
            let visible: [String]? = caller.siteFilter == nil ? nil : Array(states.keys)
            let rows = try await rows(
                """
                SELECT door_id, device_id, seq, at_ms, kind, user_id, reason, received_at FROM audit_events
                WHERE org_id = \(caller.org) AND at > now() - interval '10 minutes' AND received_at > \(since)
                AND kind = ANY(\([AuditKind.accessGranted.rawValue, AuditKind.accessDenied.rawValue, AuditKind.alarm.rawValue]))
                AND (\(visible)::text[] IS NULL OR door_id = ANY(\(visible ?? [])))
                ORDER BY received_at, device_id, seq LIMIT 200
                """
            )
            for row in rows {
                let r = try row.decode((String?, String, Int64, Int64, String, String?, String?, Date).self)
                since = max(since, r.7)
                let event = DecisionEvent(
                    door: r.0,
                    device: r.1,
                    seq: r.2,
                    at: Date(timeIntervalSince1970: Double(r.3) / 1000),
                    kind: r.4,
                    result: Self.result(ofKind: r.4),
                    user: r.5,
                    reason: r.6
                )
                try await send(r.4 == AuditKind.alarm.rawValue ? "alarm" : "decision", event)
            }
            if ContinuousClock.now - beat > .seconds(15) {
                beat = ContinuousClock.now
                try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
            }
            try await Task.sleep(for: Self.eventInterval)
        }
    }
}
