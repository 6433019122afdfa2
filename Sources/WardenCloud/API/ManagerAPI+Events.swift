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
        /// The person's and the door's names, so a live view says who and where without a lookup per event.
        var userName: String?
        var doorName: String?
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
                SELECT e.door_id, e.device_id, e.seq, e.at_ms, e.kind, e.user_id, e.reason, e.received_at, u.name, d.name
                FROM audit_events e
                LEFT JOIN users u ON u.org_id = e.org_id AND u.id = e.user_id
                LEFT JOIN doors d ON d.org_id = e.org_id AND d.id = e.door_id
                WHERE e.org_id = \(caller.org) AND e.at > now() - interval '10 minutes' AND e.received_at > \(since)
                AND e.kind = ANY(\([AuditKind.accessGranted.rawValue, AuditKind.accessDenied.rawValue, AuditKind.alarm.rawValue]))
                AND (\(visible)::text[] IS NULL OR e.door_id = ANY(\(visible ?? [])))
                ORDER BY e.received_at, e.device_id, e.seq LIMIT 200
                """
            )
            for row in rows {
                let r = try row.decode(
                    (String?, String, Int64, Int64, String, String?, String?, Date, String?, String?).self
                )
                since = max(since, r.7)
                let event = DecisionEvent(
                    door: r.0,
                    device: r.1,
                    seq: r.2,
                    at: Date(timeIntervalSince1970: Double(r.3) / 1000),
                    kind: r.4,
                    result: Self.result(ofKind: r.4),
                    user: r.5,
                    reason: r.6,
                    userName: r.8,
                    doorName: r.9
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
