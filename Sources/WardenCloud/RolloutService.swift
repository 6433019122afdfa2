import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import WardenWire

/// Drives running rollouts (docs/updates.md): every `interval` it reads each rollout's boards with what their last
/// `state` reported (the installed version and warden-updater's report, stored by the consumer), lets
/// `RolloutPlanner` decide, and carries the decisions out: signed update orders through the same path as a remote
/// unlock, board and rollout states in PostgreSQL. It polls the database, so every warden-cloud instance may run it;
/// an order is sent under a row lock, so two instances never order the same board twice.
public struct RolloutService: Service {
    let api: ManagerAPI
    let interval: Duration
    /// A board that does not report within this long of its order counts as failed (the order itself lives a day).
    let orderTimeout: TimeInterval

    public init(
        operations: CloudOperations,
        logger: Logger,
        interval: Duration = .seconds(2),
        orderTimeout: TimeInterval = 90_000
    ) {
        self.api = ManagerAPI(operations: operations, logger: logger)
        self.interval = interval
        self.orderTimeout = orderTimeout
    }

    public func run() async throws {
        await PeriodicPass.run(every: interval, logger: api.logger, what: "rollouts: a pass") { try await tick() }
    }

    /// One pass over every running rollout.
    public func tick(now: Date = Date()) async throws {
        let running = try await api.rows(
            "SELECT org_id, id, version, cardinality(waves), max_failures, wave FROM rollouts WHERE state = 'running'"
        ).map { try $0.decode((String, String, String, Int, Int, Int).self) }
        for (org, id, version, waveCount, maxFailures, wave) in running {
            try await step(
                org: org,
                id: id,
                version: version,
                waveCount: waveCount,
                maxFailures: maxFailures,
                wave: wave,
                now: now
            )
        }
    }

    func step(
        org: String,
        id: String,
        version: String,
        waveCount: Int,
        maxFailures: Int,
        wave: Int,
        now: Date
    )
        async throws
    {
        var devices: [RolloutPlanner.Device] = []
        for r in try await api.rows(
            """
            SELECT rd.device_id, rd.wave, rd.state, rd.jti, rd.ordered_at, d.state->>'version', (d.state->'update')::text
            FROM rollout_devices rd JOIN devices d ON d.org_id = rd.org_id AND d.id = rd.device_id
            WHERE rd.org_id = \(org) AND rd.rollout_id = \(id)
            """
        ) {
            let (device, w, state, jti, orderedAt, running, report) = try r.decode(
                (String, Int, String, String?, Date?, String?, String?).self
            )
            devices.append(
                .init(
                    id: device,
                    wave: w,
                    state: RolloutPlanner.DeviceState(rawValue: state) ?? .failed,
                    jti: jti,
                    orderedAt: orderedAt,
                    version: running,
                    report: report.flatMap {
                        try? WireJSON.decode(UpdateReport.self, from: Array($0.utf8), what: "update")
                    }
                )
            )
        }
        let actions = RolloutPlanner.step(
            version: version,
            wave: wave,
            waveCount: waveCount,
            maxFailures: maxFailures,
            devices: devices,
            now: now,
            orderTimeout: orderTimeout
        )
        let meta: Logger.Metadata = ["org": "\(org)", "rollout": "\(id)", "version": "\(version)"]
        for action in actions {
            switch action {
            case .order(let device):
                // Claim the row first: only the instance that moves it from pending sends the order.
                let claimed = try await api.rows(
                    """
                    UPDATE rollout_devices SET state = 'ordered', ordered_at = now(), updated_at = now()
                    WHERE org_id = \(org) AND rollout_id = \(id) AND device_id = \(device) AND state = 'pending'
                    RETURNING device_id
                    """
                )
                guard !claimed.isEmpty else { continue }
                do {
                    let jti = try await api.operations.command(org: org, device: device, .update, version: version)
                    try await api.db.query(
                        "UPDATE rollout_devices SET jti = \(jti) WHERE org_id = \(org) AND rollout_id = \(id) AND device_id = \(device)",
                        logger: api.logger
                    )
                    api.logger.info(
                        "rollout: update ordered",
                        metadata: meta.merging(["device": "\(device)"]) { a, _ in a }
                    )
                } catch {
                    try await mark(org, id, device, .failed, "the order could not be sent: \(error)")
                }
            case .mark(let device, let state, let detail):
                try await mark(org, id, device, state, detail)
            case .advance(let next):
                try await api.db.query(
                    "UPDATE rollouts SET wave = \(next), updated_at = now() WHERE org_id = \(org) AND id = \(id) AND state = 'running'",
                    logger: api.logger
                )
                api.logger.notice("rollout: next wave", metadata: meta.merging(["wave": "\(next + 1)"]) { a, _ in a })
            case .complete:
                try await finish(org, id, "completed", reason: nil)
                api.logger.notice("rollout completed", metadata: meta)
            case .stop(let reason):
                try await finish(org, id, "stopped", reason: reason)
                api.logger.error("rollout stopped", metadata: meta.merging(["reason": "\(reason)"]) { a, _ in a })
            }
        }
    }

    func mark(
        _ org: String,
        _ id: String,
        _ device: String,
        _ state: RolloutPlanner.DeviceState,
        _ detail: String
    )
        async throws
    {
        try await api.db.query(
            """
            UPDATE rollout_devices SET state = \(state.rawValue), detail = \(detail), updated_at = now()
            WHERE org_id = \(org) AND rollout_id = \(id) AND device_id = \(device)
            """,
            logger: api.logger
        )
    }

    func finish(_ org: String, _ id: String, _ state: String, reason: String?) async throws {
        try await api.db.query(
            """
            UPDATE rollouts SET state = \(state), reason = \(reason), updated_at = now()
            WHERE org_id = \(org) AND id = \(id) AND state = 'running'
            """,
            logger: api.logger
        )
    }
}
