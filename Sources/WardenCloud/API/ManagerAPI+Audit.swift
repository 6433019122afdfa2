import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import PostgresNIO
import WardenWire

/// The audit trail (filters, cursor pages, CSV export), alarms, and installers' enrollment tokens.
extension ManagerAPI {
    func registerAudit(_ t: inout RouteTable) {
        t.on(.get, "/v1/audit") { r, c in
            let caller = try c.caller()
            let q = try await auditQuery({ Self.query(r, $0) }, caller)
            let limit = try APIInput.limit(Self.query(r, "limit"))
            var events = try await audit(q, caller, limit: limit + 1)
            var next: String?
            if events.count > limit {
                events.removeLast()
                next = events.last.map(AuditCursor.init(event:))?.encoded
            }
            return try APIJSON.response(APIModel.AuditPage(events: events, nextCursor: next))
        }
        t.on(.get, "/v1/audit/export") { r, c in
            let caller = try c.caller()
            let first = try await auditQuery({ Self.query(r, $0) }, caller)
            let api = self
            // Streamed page by page: an export of a year's trail never sits in memory whole.
            // Names beside the ids for the people reading it (an auditor asks "who"): the doors once, each page's
            // people in one query.
            let doorNames = Self.doorNames(try await doors(caller, site: nil))
            let body = ResponseBody { writer in
                var q = first
                try await writer.write(ByteBuffer(string: AuditCSV.header))
                var total = 0
                while total < 1_000_000 {
                    let page = try await api.audit(q, caller, limit: 5000)
                    guard !page.isEmpty else { break }
                    let userNames = try await api.userNames(caller.org, ids: page.compactMap(\.user))
                    try await writer.write(
                        ByteBuffer(
                            string: page.map {
                                AuditCSV.line(
                                    $0,
                                    userName: $0.user.flatMap { userNames[$0] },
                                    doorName: $0.door.flatMap { doorNames[$0] }
                                )
                            }.joined()
                        )
                    )
                    total += page.count
                    guard page.count == 5000, let last = page.last else { break }
                    q.cursor = AuditCursor(event: last)
                }
                try await writer.finish(nil)
            }
            return Response(
                status: .ok,
                headers: [
                    .contentType: "text/csv; charset=utf-8",
                    .contentDisposition: "attachment; filename=\"warden-audit.csv\"",
                ],
                body: body
            )
        }
        t.on(.get, "/v1/alarms") { r, c in
            let caller = try c.caller()
            let limit = try APIInput.limit(Self.query(r, "limit"))
            return try APIJSON.response(APIModel.Page(items: try await alarms(caller, limit: limit)))
        }
        t.on(.get, "/v1/enrollment-tokens") { _, c in
            let caller = try c.caller()
            return try APIJSON.response(APIModel.Page(items: try await enrollmentTokens(caller, only: nil)))
        }
        t.on(.post, "/v1/enrollment-tokens") { r, c in
            let caller = try c.caller()
            let input = try await APIJSON.decode(APIModel.EnrollmentTokenInput.self, from: r, context: c)
            return try APIJSON.response(try await createEnrollmentToken(input, caller: caller), status: .created)
        }
    }

    /// A one-time token for an installer to provision a board on a site (and door): shown once, stored hashed.
    func createEnrollmentToken(
        _ input: APIModel.EnrollmentTokenInput,
        caller: Principal
    ) async throws
        -> APIModel.EnrollmentToken
    {
        try caller.requireWrite()
        try APIInput.id(input.site, "site")
        guard caller.sees(site: input.site), try await !sites(caller, only: input.site).isEmpty else {
            throw Problem.invalid("site", "no site '\(input.site)'")
        }
        if let door = input.door {
            try APIInput.id(door, "door")
            let d = try? await self.door(door, for: caller)
            guard d?.site == input.site else {
                throw Problem.invalid("door", "no door '\(door)' on site '\(input.site)'")
            }
        }
        let minutes = input.validMinutes ?? 60
        guard (5...10_080).contains(minutes) else {
            throw Problem.invalid("valid_minutes", "must be from 5 to 10080")
        }
        let id = Secrets.id("e")
        let token = Secrets.token(.enrollment)
        try await db.query(
            """
            INSERT INTO enrollment_tokens(id, hash, org_id, site_id, door_id, created_by, expires_at)
            VALUES (\(id), \(ByteBuffer(bytes: Secrets.hash(token))), \(caller.org), \(input.site), \(input.door),
                \(caller.user), \(Date().addingTimeInterval(Double(minutes) * 60)))
            """,
            logger: logger
        )
        var model = try await enrollmentTokens(caller, only: id)[0]
        model.token = token
        return model
    }

    struct AuditQuery: Sendable {
        var door: String?
        var user: String?
        var device: String?
        var kinds: [String]?
        var since: Date?
        var until: Date?
        var cursor: AuditCursor?
    }

    /// The audit filters from query parameters (`value` reads one by name), each checked.
    func auditQuery(_ value: (String) -> String?, _ caller: Principal) async throws -> AuditQuery {
        var q = AuditQuery()
        q.door = value("door")
        q.user = value("user")
        q.device = value("device")
        for (name, v) in [("door", q.door), ("user", q.user), ("device", q.device)] {
            if let v, !DeviceTopics.isValidID(v) { throw Problem.invalid(name, "'\(v.prefix(80))' is not an id") }
        }
        if let door = q.door { _ = try await self.door(door, for: caller) }
        switch value("result") {
        case nil: break
        case "granted": q.kinds = [AuditKind.accessGranted.rawValue]
        case "denied": q.kinds = [AuditKind.accessDenied.rawValue]
        case "alarm": q.kinds = [AuditKind.alarm.rawValue, AuditKind.alarmCleared.rawValue]
        default: throw Problem.invalid("result", "must be granted, denied or alarm")
        }
        q.since = try APIInput.queryTime(value("since"), "since")
        q.until = try APIInput.queryTime(value("until"), "until")
        if let cursor = value("cursor") {
            guard let c = AuditCursor(encoded: cursor) else {
                throw Problem.invalid("cursor", "not a cursor from this API")
            }
            q.cursor = c
        }
        return q
    }

    /// Newest first; a site manager reads only their doors' events.
    func audit(_ q: AuditQuery, _ caller: Principal, limit: Int) async throws -> [APIModel.AuditEvent] {
        let visibleDoors: [String]? =
            caller.siteFilter == nil ? nil : try await doors(caller, site: nil).map(\.id)
        let c = q.cursor
        return try await rows(
            """
            SELECT device_id, seq, at_ms, kind, door_id, credential_id, user_id, reason, detail FROM audit_events
            WHERE org_id = \(caller.org) AND (\(q.door)::text IS NULL OR door_id = \(q.door))
            AND (\(q.user)::text IS NULL OR user_id = \(q.user)) AND (\(q.device)::text IS NULL OR device_id = \(q.device))
            AND (\(q.kinds)::text[] IS NULL OR kind = ANY(\(q.kinds ?? [])))
            AND (\(q.since)::timestamptz IS NULL OR at >= \(q.since)) AND (\(q.until)::timestamptz IS NULL OR at < \(q.until))
            AND (\(visibleDoors)::text[] IS NULL OR door_id = ANY(\(visibleDoors ?? [])))
            AND (\(c?.atMillis)::bigint IS NULL OR (at, device_id, seq) <
                ('epoch'::timestamptz + \(c?.atMillis ?? 0) * interval '1 millisecond', \(c?.device ?? ""), \(c?.seq ?? 0)))
            ORDER BY at DESC, device_id DESC, seq DESC LIMIT \(limit)
            """
        ).map { row in
            let r = try row.decode((String, Int64, Int64, String, String?, String?, String?, String?, String?).self)
            return APIModel.AuditEvent(
                device: r.0,
                seq: r.1,
                at: Date(timeIntervalSince1970: Double(r.2) / 1000),
                kind: r.3,
                result: Self.result(ofKind: r.3),
                door: r.4,
                credential: r.5,
                user: r.6,
                reason: r.7,
                detail: r.8
            )
        }
    }

    /// The `result` filter's word for an event kind, so a filtered page's events carry the word they matched.
    static func result(ofKind kind: String) -> String? {
        switch AuditKind(rawValue: kind) {
        case .accessGranted: "granted"
        case .accessDenied: "denied"
        case .alarm, .alarmCleared: "alarm"
        default: nil
        }
    }

    func alarms(_ caller: Principal, limit: Int) async throws -> [APIModel.Alarm] {
        try await rows(
            """
            SELECT a.device_id, v.door_id, a.seq, a.at, a.kind, a.reason, a.detail FROM alarms a
            JOIN devices v ON v.org_id = a.org_id AND v.id = a.device_id
            JOIN doors d ON d.org_id = v.org_id AND d.id = v.door_id
            WHERE a.org_id = \(caller.org)
            AND (\(caller.siteFilter)::text[] IS NULL OR d.site_id = ANY(\(caller.siteFilter ?? [])))
            ORDER BY a.at DESC LIMIT \(limit)
            """
        ).map { row in
            let r = try row.decode((String, String?, Int64, Date, String, String?, String?).self)
            return APIModel.Alarm(device: r.0, door: r.1, seq: r.2, at: r.3, kind: r.4, reason: r.5, detail: r.6)
        }
    }

    func enrollmentTokens(_ caller: Principal, only: String?) async throws -> [APIModel.EnrollmentToken] {
        try await rows(
            """
            SELECT id, site_id, door_id, expires_at, used_at FROM enrollment_tokens WHERE org_id = \(caller.org)
            AND (\(only)::text IS NULL OR id = \(only))
            AND (\(caller.siteFilter)::text[] IS NULL OR site_id = ANY(\(caller.siteFilter ?? [])))
            ORDER BY created_at DESC, id LIMIT 1000
            """
        ).map { row in
            let r = try row.decode((String, String, String?, Date, Date?).self)
            return APIModel.EnrollmentToken(id: r.0, site: r.1, door: r.2, expiresAt: r.3, usedAt: r.4, token: nil)
        }
    }
}

/// Where an audit page ended: the last event's time, device and sequence, opaque to clients.
struct AuditCursor: Sendable, Equatable {
    var atMillis: Int64
    var device: String
    var seq: Int64

    init(event: APIModel.AuditEvent) {
        atMillis = Int64((event.at.timeIntervalSince1970 * 1000).rounded())
        device = event.device
        seq = event.seq
    }

    init?(encoded: String) {
        guard encoded.count <= 200, let data = Base64URL.decode(encoded) else { return nil }
        let parts = String(decoding: data, as: UTF8.self).split(separator: " ")
        guard parts.count == 3, let at = Int64(parts[0]), let seq = Int64(parts[2]),
            DeviceTopics.isValidID(String(parts[1]))
        else { return nil }
        atMillis = at
        device = String(parts[1])
        self.seq = seq
    }

    var encoded: String { Base64URL.encode(Array("\(atMillis) \(device) \(seq)".utf8)) }
}

/// The export's columns, quoted as RFC 4180 says; a cell a spreadsheet would run as a formula is prefixed.
enum AuditCSV {
    /// The ids and codes first (scripts match on them), the names last (people read them).
    static let header = "time,device,seq,kind,result,door,user,credential,reason,detail,user_name,door_name\r\n"

    static func line(_ e: APIModel.AuditEvent, userName: String?, doorName: String?) -> String {
        [
            APIJSON.formatDate(e.at), e.device, String(e.seq), e.kind, e.result ?? "", e.door ?? "", e.user ?? "",
            e.credential ?? "", e.reason ?? "", e.detail ?? "", userName ?? "", doorName ?? "",
        ].map(cell).joined(separator: ",") + "\r\n"
    }

    static func cell(_ s: String) -> String {
        var v = s
        if let f = v.first, "=+-@\t\r".contains(f) { v = "'" + v }
        if v.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) {
            return "\"" + v.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
        return v
    }
}
