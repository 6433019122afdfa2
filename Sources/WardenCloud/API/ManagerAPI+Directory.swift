import Foundation
import Hummingbird
import NIOCore
import PostgresNIO
import WardenWire

/// Org, sites, doors, door groups, devices, remote unlock and lockdown.
extension ManagerAPI {
    func registerDirectory(_ t: inout RouteTable) {
        t.on(.get, "/v1/org") { _, c in
            let caller = try c.caller()
            for row in try await rows("SELECT id, name FROM orgs WHERE id = \(caller.org)") {
                let (id, name) = try row.decode((String, String).self)
                return try APIJSON.response(APIModel.Org(id: id, name: name))
            }
            throw Problem.notFound("org")
        }
        t.on(.get, "/v1/sites") { _, c in try APIJSON.response(APIModel.Page(items: try await sites(c.caller()))) }
        t.on(.post, "/v1/sites") { r, c in
            let caller = try c.caller()
            try caller.requireAdmin()
            let input = try await APIJSON.decode(APIModel.SiteInput.self, from: r, context: c)
            try APIInput.id(input.id, "id")
            try APIInput.text(input.name, "name")
            try APIInput.timeZone(input.timeZone)
            try APIInput.holidays(input.holidays ?? [])
            if try await !rows("SELECT 1 FROM sites WHERE org_id = \(caller.org) AND id = \(input.id)").isEmpty {
                throw Problem(.conflict, "site '\(input.id)' already exists", field: "id")
            }
            try await operations.createSite(
                org: caller.org,
                id: input.id,
                name: input.name,
                timeZone: input.timeZone,
                holidays: input.holidays ?? []
            )
            return try APIJSON.response(try await site(input.id, caller), status: .created)
        }
        t.on(.get, "/v1/sites/{id}") { _, c in
            try APIJSON.response(try await site(try Self.pathID(c, what: "site"), try c.caller()))
        }
        t.on(.patch, "/v1/sites/{id}") { r, c in
            let caller = try c.caller()
            let id = try Self.pathID(c, what: "site")
            var current = try await site(id, caller)
            try caller.requireAdmin()
            let patch = try await APIJSON.decode(APIModel.SitePatch.self, from: r, context: c)
            if let name = patch.name { try APIInput.text(name, "name") }
            if let tz = patch.timeZone { try APIInput.timeZone(tz) }
            if let h = patch.holidays { try APIInput.holidays(h) }
            current.name = patch.name ?? current.name
            current.timeZone = patch.timeZone ?? current.timeZone
            current.holidays = patch.holidays ?? current.holidays
            try await operations.createSite(
                org: caller.org,
                id: id,
                name: current.name,
                timeZone: current.timeZone,
                holidays: current.holidays
            )
            return try APIJSON.response(try await site(id, caller))
        }
        t.on(.post, "/v1/sites/{id}/lockdown") { r, c in
            let caller = try c.caller()
            let id = try Self.pathID(c, what: "site")
            _ = try await site(id, caller)
            try caller.requireWrite()
            let input = try await APIJSON.decode(APIModel.LockdownInput.self, from: r, context: c)
            let devices = try await rows(
                """
                SELECT v.id FROM devices v JOIN doors d ON d.org_id = v.org_id AND d.id = v.door_id
                WHERE v.org_id = \(caller.org) AND d.site_id = \(id) AND v.decommissioned_at IS NULL ORDER BY v.id
                """
            ).map { try $0.decode(String.self) }
            return try APIJSON.response(try await send(.lockdown, on: input.on, to: devices, caller: caller))
        }

        t.on(.get, "/v1/doors") { r, c in
            let caller = try c.caller()
            let site = try Self.queryID(r, "site")
            return try APIJSON.response(APIModel.Page(items: try await doors(caller, site: site)))
        }
        t.on(.post, "/v1/doors") { r, c in
            let caller = try c.caller()
            try caller.requireWrite()
            let input = try await APIJSON.decode(APIModel.DoorInput.self, from: r, context: c)
            try APIInput.id(input.id, "id")
            try APIInput.id(input.site, "site")
            try APIInput.text(input.name, "name")
            guard caller.sees(site: input.site),
                try await !rows("SELECT 1 FROM sites WHERE org_id = \(caller.org) AND id = \(input.site)").isEmpty
            else { throw Problem.invalid("site", "no site '\(input.site)'") }
            if try await !rows("SELECT 1 FROM doors WHERE org_id = \(caller.org) AND id = \(input.id)").isEmpty {
                throw Problem(.conflict, "door '\(input.id)' already exists", field: "id")
            }
            try await operations.createDoor(org: caller.org, site: input.site, id: input.id, name: input.name)
            return try APIJSON.response(try await doorModel(input.id, caller), status: .created)
        }
        t.on(.get, "/v1/doors/{id}") { _, c in
            try APIJSON.response(try await doorModel(try Self.pathID(c, what: "door"), try c.caller()))
        }
        t.on(.post, "/v1/doors/{id}/unlock") { r, c in
            let caller = try c.caller()
            let id = try Self.pathID(c, what: "door")
            _ = try await door(id, for: caller)
            try caller.requireWrite()
            let input = try await APIJSON.decode(APIModel.UnlockInput.self, from: r, context: c)
            if let ms = input.millis, !(500...60_000).contains(ms) {
                throw Problem.invalid("millis", "must be from 500 to 60000")
            }
            let devices = try await boards(of: id, caller)
            return try APIJSON.response(
                try await send(.unlock, millis: input.millis.map(Int64.init), to: devices, caller: caller)
            )
        }
        t.on(.post, "/v1/doors/{id}/lockdown") { r, c in
            let caller = try c.caller()
            let id = try Self.pathID(c, what: "door")
            _ = try await door(id, for: caller)
            try caller.requireWrite()
            let input = try await APIJSON.decode(APIModel.LockdownInput.self, from: r, context: c)
            return try APIJSON.response(
                try await send(.lockdown, on: input.on, to: boards(of: id, caller), caller: caller)
            )
        }

        t.on(.get, "/v1/door-groups") { _, c in
            let caller = try c.caller()
            let groups = try await rows(
                "SELECT id, name, doors FROM door_groups WHERE org_id = \(caller.org) ORDER BY id"
            ).map { row in
                let (id, name, doors) = try row.decode((String, String, [String]).self)
                return APIModel.DoorGroup(id: id, name: name, doors: doors)
            }
            return try APIJSON.response(APIModel.Page(items: groups))
        }
        t.on(.put, "/v1/door-groups/{id}") { r, c in
            let caller = try c.caller()
            let id = try Self.pathID(c, what: "door group")
            try caller.requireAdmin()
            let input = try await APIJSON.decode(APIModel.DoorGroup.self, from: r, context: c)
            guard input.id == id else { throw Problem.invalid("id", "must match the path's id '\(id)'") }
            try APIInput.text(input.name, "name")
            let doors = try await resolveDoors(input.doors, groups: [], for: caller)
            try await db.query(
                """
                INSERT INTO door_groups(org_id, id, name, doors) VALUES (\(caller.org), \(id), \(input.name), \(doors))
                ON CONFLICT (org_id, id) DO UPDATE SET name = excluded.name, doors = excluded.doors
                """,
                logger: logger
            )
            return try APIJSON.response(APIModel.DoorGroup(id: id, name: input.name, doors: doors))
        }

        t.on(.get, "/v1/devices") { r, c in
            let caller = try c.caller()
            let door = try Self.queryID(r, "door")
            return try APIJSON.response(APIModel.Page(items: try await devices(caller, door: door, id: nil)))
        }
        t.on(.post, "/v1/devices") { r, c in
            let caller = try c.caller()
            try caller.requireWrite()
            let input = try await APIJSON.decode(APIModel.DeviceInput.self, from: r, context: c)
            try APIInput.id(input.id, "id")
            guard !BoardProvisioning.isProvisionedID(input.id) else {
                throw Problem.invalid("id", "ids of the shape lock- and 20 hex digits are for provisioned boards")
            }
            try APIInput.id(input.door, "door")
            do { _ = try await door(input.door, for: caller) } catch {
                throw Problem.invalid("door", "no door '\(input.door)'")
            }
            if try await !rows("SELECT 1 FROM devices WHERE org_id = \(caller.org) AND id = \(input.id)").isEmpty {
                throw Problem(.conflict, "device '\(input.id)' already exists", field: "id")
            }
            try await operations.registerDevice(org: caller.org, door: input.door, id: input.id)
            return try APIJSON.response(try await deviceModel(input.id, caller), status: .created)
        }
        t.on(.get, "/v1/devices/{id}") { _, c in
            try APIJSON.response(try await deviceModel(try Self.pathID(c, what: "device"), try c.caller()))
        }
        t.on(.post, "/v1/devices/{id}/decommission") { _, c in
            let caller = try c.caller()
            let id = try Self.pathID(c, what: "device")
            _ = try await deviceModel(id, caller)
            try caller.requireWrite()
            // Its certificates are revoked with it: the broker refuses the board once it reloads the list.
            if let provisioner = operations.provisioner {
                try await provisioner.revoke(org: caller.org, device: id, now: Date())
            } else {
                _ = try await DeviceProvisioner.revokeInDatabase(
                    db,
                    org: caller.org,
                    device: id,
                    now: Date(),
                    logger: logger
                )
            }
            logger.notice("device decommissioned", metadata: ["org": "\(caller.org)", "device": "\(id)"])
            return try APIJSON.response(try await deviceModel(id, caller))
        }
    }

    // MARK: reads

    func sites(_ caller: Principal, only: String? = nil) async throws -> [APIModel.Site] {
        try await rows(
            """
            SELECT id, name, time_zone, holidays::text[] FROM sites WHERE org_id = \(caller.org)
            AND (\(only)::text IS NULL OR id = \(only)) AND (\(caller.siteFilter)::text[] IS NULL OR id = ANY(\(caller.siteFilter ?? [])))
            ORDER BY id
            """
        ).map { row in
            let (id, name, tz, holidays) = try row.decode((String, String, String, [String]).self)
            return APIModel.Site(id: id, name: name, timeZone: tz, holidays: holidays)
        }
    }

    func site(_ id: String, _ caller: Principal) async throws -> APIModel.Site {
        guard let s = try await sites(caller, only: id).first else { throw Problem.notFound("site '\(id)'") }
        return s
    }

    struct LiveState: Decodable {
        var relayUnlocked: Bool?
        var doorClosed: Bool?
        var lockdown: Bool?
    }

    /// The doors' names by id: what people read where the records hold ids (the dashboard, the CSV export).
    static func doorNames(_ doors: [APIModel.Door]) -> [String: String] {
        Dictionary(doors.map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
    }

    func doors(_ caller: Principal, site: String?, only: String? = nil) async throws -> [APIModel.Door] {
        try await rows(
            """
            SELECT d.id, d.site_id, d.name, d.access_version,
                coalesce(array_agg(v.online) FILTER (WHERE v.id IS NOT NULL), '{}'),
                coalesce(array_agg(coalesce(v.state::text, '')) FILTER (WHERE v.id IS NOT NULL), '{}')
            FROM doors d LEFT JOIN devices v ON v.org_id = d.org_id AND v.door_id = d.id AND v.decommissioned_at IS NULL
            WHERE d.org_id = \(caller.org) AND (\(site)::text IS NULL OR d.site_id = \(site))
            AND (\(only)::text IS NULL OR d.id = \(only))
            AND (\(caller.siteFilter)::text[] IS NULL OR d.site_id = ANY(\(caller.siteFilter ?? [])))
            GROUP BY d.org_id, d.id ORDER BY d.id
            """
        ).map { row in
            let (id, site, name, version, online, states) = try row.decode(
                (String, String, String, Int64, [Bool], [String]).self
            )
            return APIModel.Door(
                id: id,
                site: site,
                name: name,
                accessVersion: version,
                state: Self.doorState(online: online, states: states),
                boards: online.count,
                boardsOnline: online.filter { $0 }.count
            )
        }
    }

    /// One word for a manager: lockdown beats unlocked beats open beats locked; offline when no board is up.
    static func doorState(online: [Bool], states: [String]) -> String {
        if online.isEmpty { return "unknown" }
        let live = zip(online, states).filter(\.0).compactMap {
            try? JSONDecoder().decode(LiveState.self, from: Data($0.1.utf8))
        }
        if live.isEmpty { return "offline" }
        if live.contains(where: { $0.lockdown == true }) { return "lockdown" }
        if live.contains(where: { $0.relayUnlocked == true }) { return "unlocked" }
        if live.contains(where: { $0.doorClosed == false }) { return "open" }
        return "locked"
    }

    func doorModel(_ id: String, _ caller: Principal) async throws -> APIModel.Door {
        guard let d = try await doors(caller, site: nil, only: id).first else { throw Problem.notFound("door '\(id)'") }
        return d
    }

    func boards(of door: String, _ caller: Principal) async throws -> [String] {
        try await rows(
            "SELECT id FROM devices WHERE org_id = \(caller.org) AND door_id = \(door) AND decommissioned_at IS NULL ORDER BY id"
        ).map { try $0.decode(String.self) }
    }

    func devices(_ caller: Principal, door: String?, id: String?) async throws -> [APIModel.Device] {
        try await rows(
            """
            SELECT v.id, v.door_id, v.online, v.last_seen, v.applied_version, d.access_version, v.state::text,
                v.chain_flagged, v.decommissioned_at, v.state->>'version'
            FROM devices v JOIN doors d ON d.org_id = v.org_id AND d.id = v.door_id
            WHERE v.org_id = \(caller.org) AND (\(door)::text IS NULL OR v.door_id = \(door))
            AND (\(id)::text IS NULL OR v.id = \(id))
            AND (\(caller.siteFilter)::text[] IS NULL OR d.site_id = ANY(\(caller.siteFilter ?? [])))
            ORDER BY v.id
            """
        ).map { row in
            let r = try row.decode((String, String, Bool, Date?, Int64?, Int64, String?, Bool, Date?, String?).self)
            return APIModel.Device(
                id: r.0,
                door: r.1,
                online: r.2,
                lastSeen: r.3,
                appliedVersion: r.4,
                doorVersion: r.5,
                state: r.8 != nil ? "decommissioned" : Self.doorState(online: [r.2], states: [r.6 ?? ""]),
                chainFlagged: r.7,
                decommissionedAt: r.8,
                softwareVersion: r.9
            )
        }
    }

    func deviceModel(_ id: String, _ caller: Principal) async throws -> APIModel.Device {
        guard let d = try await devices(caller, door: nil, id: id).first else {
            throw Problem.notFound("device '\(id)'")
        }
        return d
    }

    /// Signs and sends a command to each board; a board that cannot be reached still gets its signed command
    /// queued (the broker keeps it until it expires).
    func send(
        _ kind: SignedCommand.Kind,
        on: Bool? = nil,
        millis: Int64? = nil,
        to devices: [String],
        caller: Principal
    ) async throws -> APIModel.Commands {
        var sent: [APIModel.CommandSent] = []
        for device in devices {
            let jti = try await operations.command(org: caller.org, device: device, kind, millis: millis, on: on)
            sent.append(.init(device: device, command: kind.rawValue, id: jti))
        }
        logger.notice(
            "command sent",
            metadata: [
                "org": "\(caller.org)", "by": "\(caller.user)", "command": "\(kind.rawValue)",
                "boards": "\(devices.count)",
            ]
        )
        return APIModel.Commands(commands: sent)
    }
}
