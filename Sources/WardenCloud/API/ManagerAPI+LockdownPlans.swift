import Foundation
import Hummingbird
import NIOCore
import PostgresNIO
import WardenWire

/// Lockdown plans: a site's named sets of doors ("east wing", "labs only") that a manager locks down, and lifts,
/// with one call. The same signed lockdown command as a door's or a site's, sent to every board of the plan's doors.
/// Whoever may lock the site down may write and trigger its plans (admins, and site managers of that site).
extension ManagerAPI {
    func registerLockdownPlans(_ t: inout RouteTable) {
        t.on(.get, "/v1/sites/{id}/lockdown-plans") { _, c in
            let caller = try c.caller()
            let site = try Self.pathID(c, what: "site")
            _ = try await self.site(site, caller)
            return try APIJSON.response(APIModel.Page(items: try await lockdownPlans(caller.org, site: site)))
        }
        t.on(.put, "/v1/sites/{id}/lockdown-plans/{plan}") { r, c in
            let caller = try c.caller()
            let site = try Self.pathID(c, what: "site")
            _ = try await self.site(site, caller)
            let plan = try Self.pathID(c, "plan", what: "lockdown plan")
            try caller.requireWrite()
            let input = try await APIJSON.decode(APIModel.LockdownPlanInput.self, from: r, context: c)
            try APIInput.text(input.name, "name")
            let doors = input.doors ?? []
            try APIInput.ids(doors, "doors", max: 500)
            let onSite = Set(
                try await rows("SELECT id FROM doors WHERE org_id = \(caller.org) AND site_id = \(site)").map {
                    try $0.decode(String.self)
                }
            )
            for (i, door) in doors.enumerated() where !onSite.contains(door) {
                throw Problem.invalid("doors[\(i)]", "no door '\(door)' on site '\(site)'")
            }
            try await db.query(
                """
                INSERT INTO lockdown_plans(org_id, site_id, id, name, doors)
                VALUES (\(caller.org), \(site), \(plan), \(input.name), \(doors))
                ON CONFLICT (org_id, site_id, id) DO UPDATE SET name = excluded.name, doors = excluded.doors
                """,
                logger: logger
            )
            logger.notice(
                "lockdown plan saved",
                metadata: ["org": "\(caller.org)", "site": "\(site)", "plan": "\(plan)", "by": "\(caller.user)"]
            )
            return try APIJSON.response(try await lockdownPlan(caller.org, site: site, id: plan))
        }
        t.on(.delete, "/v1/sites/{id}/lockdown-plans/{plan}") { _, c in
            let caller = try c.caller()
            let site = try Self.pathID(c, what: "site")
            _ = try await self.site(site, caller)
            let plan = try Self.pathID(c, "plan", what: "lockdown plan")
            _ = try await lockdownPlan(caller.org, site: site, id: plan)
            try caller.requireWrite()
            try await db.query(
                "DELETE FROM lockdown_plans WHERE org_id = \(caller.org) AND site_id = \(site) AND id = \(plan)",
                logger: logger
            )
            return Self.noContent()
        }
        t.on(.post, "/v1/sites/{id}/lockdown-plans/{plan}/trigger") { r, c in
            let caller = try c.caller()
            let site = try Self.pathID(c, what: "site")
            _ = try await self.site(site, caller)
            let plan = try await lockdownPlan(
                caller.org,
                site: site,
                id: try Self.pathID(c, "plan", what: "lockdown plan")
            )
            try caller.requireWrite()
            let input = try await APIJSON.decode(APIModel.LockdownInput.self, from: r, context: c)
            return try APIJSON.response(try await triggerLockdownPlan(plan, on: input.on, caller: caller))
        }
    }

    /// One signed lockdown command (or its lifting) per active board of the plan's doors.
    func triggerLockdownPlan(
        _ plan: APIModel.LockdownPlan,
        on: Bool,
        caller: Principal
    ) async throws -> APIModel.Commands {
        let devices = try await rows(
            """
            SELECT v.id FROM devices v JOIN doors d ON d.org_id = v.org_id AND d.id = v.door_id
            WHERE v.org_id = \(caller.org) AND d.site_id = \(plan.site) AND v.decommissioned_at IS NULL
            AND (cardinality(\(plan.doors)::text[]) = 0 OR d.id = ANY(\(plan.doors)))
            ORDER BY v.id
            """
        ).map { try $0.decode(String.self) }
        logger.notice(
            "lockdown plan triggered",
            metadata: [
                "org": "\(caller.org)", "site": "\(plan.site)", "plan": "\(plan.id)", "on": "\(on)",
                "by": "\(caller.user)",
            ]
        )
        return try await send(.lockdown, on: on, to: devices, caller: caller)
    }

    func lockdownPlans(_ org: String, site: String, only: String? = nil) async throws -> [APIModel.LockdownPlan] {
        try await rows(
            """
            SELECT id, name, doors, created_at FROM lockdown_plans
            WHERE org_id = \(org) AND site_id = \(site) AND (\(only)::text IS NULL OR id = \(only)) ORDER BY id
            """
        ).map { row in
            let r = try row.decode((String, String, [String], Date).self)
            return APIModel.LockdownPlan(id: r.0, site: site, name: r.1, doors: r.2, createdAt: r.3)
        }
    }

    func lockdownPlan(_ org: String, site: String, id: String) async throws -> APIModel.LockdownPlan {
        guard let plan = try await lockdownPlans(org, site: site, only: id).first else {
            throw Problem.notFound("lockdown plan '\(id)'")
        }
        return plan
    }
}
