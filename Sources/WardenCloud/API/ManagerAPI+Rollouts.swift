import Foundation
import Hummingbird
import PostgresNIO
import WardenWire

/// Software rollouts (docs/updates.md, decision 4): an org admin orders version V of warden-board to the org's
/// boards in waves; `RolloutService` sends each wave its signed update orders and moves on only when the wave runs V
/// healthy, stopping at the first wave with more failures than allowed. Everyone in the org may read them.
extension ManagerAPI {
    static let defaultWaves = ["1", "10%", "100%"]
    static let channels = ["stable", "beta"]

    func registerRollouts(_ t: inout RouteTable) {
        t.on(.get, "/v1/rollouts") { r, c in
            let caller = try c.caller()
            let limit = try APIInput.limit(r.uri.queryParameters["limit"].map(String.init))
            return try APIJSON.response(APIModel.Page(items: try await recentRollouts(caller.org, limit: limit)))
        }
        t.on(.get, "/v1/rollouts/{id}") { _, c in
            let caller = try c.caller()
            return try APIJSON.response(try await rollout(caller.org, id: try Self.pathID(c, what: "rollout")))
        }
        t.on(.post, "/v1/rollouts") { r, c in
            let caller = try c.caller()
            try caller.requireAdmin()
            let input = try await APIJSON.decode(APIModel.RolloutInput.self, from: r, context: c)
            return try APIJSON.response(try await startRollout(input, caller: caller), status: .created)
        }
        t.on(.post, "/v1/rollouts/{id}/abort") { _, c in
            let caller = try c.caller()
            return try APIJSON.response(try await abortRollout(try Self.pathID(c, what: "rollout"), caller: caller))
        }
    }

    /// The org's newest rollouts, with their boards: two queries whatever the number of rollouts.
    func recentRollouts(_ org: String, limit: Int) async throws -> [APIModel.Rollout] {
        try await rollouts(org, id: nil, limit: limit)
    }

    /// Stops ordering boards (a 404 for another org's rollout comes before the role check: ids leak nothing).
    func abortRollout(_ id: String, caller: Principal) async throws -> APIModel.Rollout {
        _ = try await rollout(caller.org, id: id)
        try caller.requireAdmin()
        try await db.query(
            """
            UPDATE rollouts SET state = 'aborted', reason = \("aborted by \(caller.user)"), updated_at = now()
            WHERE org_id = \(caller.org) AND id = \(id) AND state = 'running'
            """,
            logger: logger
        )
        logger.notice(
            "rollout aborted",
            metadata: ["org": "\(caller.org)", "rollout": "\(id)", "by": "\(caller.user)"]
        )
        return try await rollout(caller.org, id: id)
    }

    func startRollout(_ input: APIModel.RolloutInput, caller: Principal) async throws -> APIModel.Rollout {
        guard SignedCommand.isDebianVersion(input.version) else {
            throw Problem.invalid(
                "version",
                "a Debian version: a digit first, then letters, digits and .+~-: (at most 64)"
            )
        }
        let channel = input.channel ?? "stable"
        guard Self.channels.contains(channel) else {
            throw Problem.invalid("channel", "one of \(Self.channels.joined(separator: ", "))")
        }
        let waveTexts = input.waves ?? Self.defaultWaves
        guard (1...10).contains(waveTexts.count) else { throw Problem.invalid("waves", "between 1 and 10 waves") }
        var waves: [RolloutPlanner.WaveSize] = []
        for (i, w) in waveTexts.enumerated() {
            do { waves.append(try RolloutPlanner.WaveSize(parsing: w)) } catch {
                throw Problem.invalid("waves[\(i)]", error.description)
            }
        }
        let maxFailures = input.maxFailures ?? 0
        guard (0...100_000).contains(maxFailures) else { throw Problem.invalid("max_failures", "between 0 and 100000") }
        let active = try await rows(
            """
            SELECT id FROM devices WHERE org_id = \(caller.org) AND decommissioned_at IS NULL ORDER BY id
            """
        ).map { try $0.decode(String.self) }
        var devices = active
        if let wanted = input.devices {
            try APIInput.ids(wanted, "devices", max: 10_000)
            let known = Set(active)
            for (i, d) in wanted.enumerated() where !known.contains(d) {
                throw Problem.invalid("devices[\(i)]", "no active board '\(d)' in this org")
            }
            devices = Array(Set(wanted)).sorted()
        }
        guard !devices.isEmpty else { throw Problem.invalid("devices", "no boards to update") }
        let busy = try await rows(
            """
            SELECT rd.device_id, r.id FROM rollout_devices rd JOIN rollouts r ON r.org_id = rd.org_id AND r.id = rd.rollout_id
            WHERE rd.org_id = \(caller.org) AND r.state = 'running' AND rd.device_id = ANY(\(devices)) LIMIT 1
            """
        )
        if let row = busy.first {
            let (device, other) = try row.decode((String, String).self)
            throw Problem(
                .conflict,
                "board '\(device)' is in running rollout '\(other)': abort it first",
                field: "devices"
            )
        }
        let id = Secrets.id("ro-")
        let plan = RolloutPlanner.assign(devices: devices, waves: waves)
        try await db.withTransaction(logger: logger) { tx in
            try await tx.query(
                """
                INSERT INTO rollouts(org_id, id, version, channel, waves, max_failures, created_by)
                VALUES (\(caller.org), \(id), \(input.version), \(channel), \(waves.map(\.description)), \(maxFailures), \(caller.user))
                """,
                logger: logger
            )
            for (wave, boards) in plan.enumerated() {
                for board in boards {
                    try await tx.query(
                        "INSERT INTO rollout_devices(org_id, rollout_id, device_id, wave) VALUES (\(caller.org), \(id), \(board), \(wave))",
                        logger: logger
                    )
                }
            }
        }
        logger.notice(
            "rollout started",
            metadata: [
                "org": "\(caller.org)", "rollout": "\(id)", "version": "\(input.version)", "boards": "\(devices.count)",
                "waves": "\(plan.map(\.count))", "by": "\(caller.user)",
            ]
        )
        return try await rollout(caller.org, id: id)
    }

    func rollout(_ org: String, id: String) async throws -> APIModel.Rollout {
        guard let found = try await rollouts(org, id: id, limit: 1).first else {
            throw Problem.notFound("rollout '\(id)'")
        }
        return found
    }

    /// One rollout (`id`) or the newest `limit`, each with its boards and what they run now.
    private func rollouts(_ org: String, id: String?, limit: Int) async throws -> [APIModel.Rollout] {
        var out: [APIModel.Rollout] = []
        var index: [String: Int] = [:]
        for row in try await rows(
            """
            SELECT id, version, channel, waves, max_failures, state, reason, wave, created_at, updated_at
            FROM rollouts WHERE org_id = \(org) AND (\(id)::text IS NULL OR id = \(id))
            ORDER BY created_at DESC, id LIMIT \(limit)
            """
        ) {
            let (rid, version, channel, waves, maxFailures, state, reason, wave, created, updated) = try row.decode(
                (String, String, String, [String], Int, String, String?, Int, Date, Date).self
            )
            index[rid] = out.count
            out.append(
                APIModel.Rollout(
                    id: rid,
                    version: version,
                    channel: channel,
                    waves: waves,
                    maxFailures: maxFailures,
                    state: state,
                    reason: reason,
                    wave: wave + 1,
                    createdAt: created,
                    updatedAt: updated,
                    devices: []
                )
            )
        }
        guard !out.isEmpty else { return [] }
        for r in try await rows(
            """
            SELECT rd.rollout_id, rd.device_id, rd.wave, rd.state, rd.detail, d.state->>'version'
            FROM rollout_devices rd LEFT JOIN devices d ON d.org_id = rd.org_id AND d.id = rd.device_id
            WHERE rd.org_id = \(org) AND rd.rollout_id = ANY(\(out.map(\.id)))
            ORDER BY rd.rollout_id, rd.wave, rd.device_id
            """
        ) {
            let (rid, device, w, s, detail, running) = try r.decode(
                (String, String, Int, String, String?, String?).self
            )
            guard let i = index[rid] else { continue }
            out[i].devices.append(.init(device: device, wave: w + 1, state: s, detail: detail, version: running))
        }
        return out
    }
}
