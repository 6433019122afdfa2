import Foundation
import Logging
import PostgresNIO
import WardenWire

/// The cloud's PostgreSQL: one front door for every query (bound parameters only), the schema migrations and the
/// monthly audit partitions. Runs on a `PostgresClient` pool whose `run()` the owner keeps going.
public struct CloudStore: Sendable {
    public let client: PostgresClient
    let logger: Logger

    public init(_ config: CloudConfig.Database, logger: Logger) {
        var c = PostgresClient.Configuration(
            host: config.host,
            port: config.port,
            username: config.user,
            password: config.password,
            database: config.name,
            tls: .disable
        )
        c.options.maximumConnections = 8
        self.client = PostgresClient(configuration: c, backgroundLogger: logger)
        self.logger = logger
    }

    @discardableResult
    func wrap<T>(_ what: String, _ body: () async throws -> T) async throws(CloudError) -> T {
        do { return try await body() } catch let e as CloudError { throw e } catch {
            throw CloudError(.database, "\(what): \(String(reflecting: error))")
        }
    }

    // MARK: schema

    /// Applies the migrations not yet applied, each in its own transaction; returns how many ran.
    @discardableResult
    public func migrate() async throws(CloudError) -> Int {
        try await wrap("migrating the schema") {
            try await client.query(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
                logger: logger
            )
            var done = Set<Int>()
            for try await v in try await client.query("SELECT version FROM schema_migrations", logger: logger).decode(
                Int.self
            ) {
                done.insert(v)
            }
            var ran = 0
            for m in CloudSchema.migrations where !done.contains(m.version) {
                try await client.withTransaction(logger: logger) { conn in
                    for statement in m.sql.components(separatedBy: ";\n")
                    where !statement.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                        try await conn.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                    }
                    try await conn.query(
                        "INSERT INTO schema_migrations(version, name) VALUES (\(m.version), \(m.name))",
                        logger: logger
                    )
                }
                ran += 1
            }
            return ran
        }
    }

    /// Monthly partitions of `audit_events` from last month to three months ahead (idempotent; run at start and
    /// daily). Retention drops whole old partitions (docs/operations.md).
    public func ensurePartitions(around date: Date) async throws(CloudError) {
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = TimeZone(identifier: "UTC")!
        let month = cal.date(from: cal.dateComponents([.year, .month], from: date))!
        try await wrap("creating audit partitions") {
            for offset in -1...3 {
                let from = cal.date(byAdding: .month, value: offset, to: month)!
                let to = cal.date(byAdding: .month, value: 1, to: from)!
                let c = cal.dateComponents([.year, .month], from: from)
                let name = String(format: "audit_events_%04d_%02d", c.year!, c.month!)
                let f = ISO8601DateFormatter()
                let sql =
                    "CREATE TABLE IF NOT EXISTS \(name) PARTITION OF audit_events FOR VALUES FROM ('\(f.string(from: from))') TO ('\(f.string(from: to))')"
                do { try await client.query(PostgresQuery(unsafeSQL: sql), logger: logger) } catch {
                    // Rows in the default partition for that range (a board with a wrong clock) block the attach;
                    // they stay queryable there. Logged, not fatal.
                    logger.warning(
                        "cannot create audit partition",
                        metadata: ["partition": "\(name)", "error": "\(String(reflecting: error))"]
                    )
                }
            }
        }
    }

    /// Deletes the support bundles requested before `cutoff`, archive and request alike (a bundle holds a board's
    /// logs and layout; docs/api.md). Returns how many went.
    public func pruneSupportBundles(requestedBefore cutoff: Date) async throws(CloudError) -> Int {
        try await wrap("deleting old support bundles") {
            var n = 0
            for try await _ in try await client.query(
                "DELETE FROM support_bundles WHERE requested_at < \(cutoff) RETURNING 1",
                logger: logger
            ) {
                n += 1
            }
            return n
        }
    }

    // MARK: ingest

    public struct IngestResult: Sendable, Equatable {
        public var ack: AuditAck?
        public var inserted: Int
        public var flagged: Int
        public var outOfOrder: Bool
    }

    /// One batch from one board (tests and the one-message path): `ingest(_:)` with one item.
    public func ingest(org: String, device: String, batch: AuditBatch) async throws(CloudError) -> IngestResult? {
        try await ingest([IngestItem(org: org, device: device, batch: batch)])[0]
    }

    public struct IngestItem: Sendable {
        public var org: String
        public var device: String
        public var batch: AuditBatch
        public init(org: String, device: String, batch: AuditBatch) {
            self.org = org
            self.device = device
            self.batch = batch
        }
    }

    /// Many batches from many boards in one transaction (group commit: one fsync for all of them): the devices'
    /// rows locked in a fixed order (two consumers never interleave one device, nor deadlock), each batch planned
    /// in arrival order against its device's position as the earlier batches left it, all rows inserted in one
    /// statement (a repeat is a no-op), the positions advanced, then COMMIT. Results (nil for an unregistered
    /// device) are returned only after the commit, in the order of `items`.
    ///
    /// `bulk` writes the rows with COPY, the fast path, which has no ON CONFLICT: it relies on the device's row lock
    /// and position (rows past the position cannot exist). Without it, one INSERT ... ON CONFLICT DO NOTHING, the
    /// path that tolerates a row stored outside that rule. Data the database refuses (a constraint or a value, not
    /// a lost connection) throws `.invalid`, so the caller can retry the batches one by one and isolate the culprit.
    public func ingest(_ items: [IngestItem], bulk: Bool = true) async throws(CloudError) -> [IngestResult?] {
        guard !items.isEmpty else { return [] }
        do {
            return try await ingestTransaction(items, bulk: bulk)
        } catch let e as PostgresTransactionError {
            let cause = e.closureError ?? e.commitError ?? e.beginError ?? e.rollbackError
            // Only a refusal of the data itself (SQLSTATE class 22, data exception, or 23, integrity constraint)
            // is `.invalid`: an administrator's shutdown or a lost connection is the database's trouble, retried
            // whole when the boards re-send.
            if let p = cause as? PSQLError, p.code == .server,
                let state = p.serverInfo?[.sqlState], state.hasPrefix("22") || state.hasPrefix("23")
            {
                throw CloudError(
                    .invalid,
                    "storing \(items.count) audit batch(es): the database refused them: \(p.serverInfo?[.message] ?? "?") (\(p.serverInfo?[.sqlState] ?? "?"))"
                )
            }
            throw CloudError(.database, "storing \(items.count) audit batch(es): \(String(reflecting: cause ?? e))")
        } catch {
            throw CloudError(.database, "storing \(items.count) audit batch(es): \(String(reflecting: error))")
        }
    }

    private func ingestTransaction(_ items: [IngestItem], bulk: Bool) async throws -> [IngestResult?] {
        try await client.withTransaction(logger: logger) { conn -> [IngestResult?] in
            let keys = Array(Set(items.map { DeviceKey(org: $0.org, device: $0.device) }))
            var position: [DeviceKey: (seq: Int64, hash: [UInt8]?)] = [:]
            let rows = try await conn.query(
                """
                SELECT d.org_id, d.id, d.audit_seq, d.audit_hash FROM devices d
                JOIN unnest(\(keys.map(\.org))::text[], \(keys.map(\.device))::text[]) AS k(org, id)
                    ON d.org_id = k.org AND d.id = k.id
                ORDER BY d.org_id, d.id FOR UPDATE OF d
                """,
                logger: logger
            )
            for try await (org, id, seq, hash) in rows.decode((String, String, Int64, ByteBuffer?).self) {
                position[DeviceKey(org: org, device: id)] = (seq, hash.map { Array($0.readableBytesView) })
            }
            var results: [IngestResult?] = []
            var stored: [FlaggedRecord] = []
            var flaggedBy: [DeviceKey: Bool] = [:]
            var moved: Set<DeviceKey> = []
            for item in items {
                let key = DeviceKey(org: item.org, device: item.device)
                guard let (seq, hash) = position[key] else {
                    results.append(nil)
                    continue
                }
                let plan = AuditIngestPlan.plan(item.batch, storedSeq: seq, storedHash: hash)
                let flagged = plan.rows.filter { !$0.flags.isEmpty }.count
                for row in plan.rows {
                    stored.append(
                        FlaggedRecord(org: item.org, device: item.device, record: row.record, flags: row.flags)
                    )
                }
                if !plan.rows.isEmpty, let ack = plan.ack {
                    position[key] = (ack.upToSeq, Hex.decode(ack.hash))
                    moved.insert(key)
                    if flagged > 0 { flaggedBy[key] = true }
                }
                results.append(
                    IngestResult(
                        ack: plan.ack,
                        inserted: plan.rows.count,
                        flagged: flagged,
                        outOfOrder: plan.outOfOrder
                    )
                )
            }
            guard !stored.isEmpty else { return results }
            if bulk {
                try await conn.copyFrom(table: "audit_events", columns: AuditCopyText.columns, logger: logger) {
                    try await $0.write(AuditCopyText.rows(stored))
                }
            } else {
                // Column arrays bound in PostgreSQL's binary format and expanded by unnest: no text or JSON hop for
                // the rows. Arrays cannot hold NULL here, so absent fields travel as a bit mask beside them.
                let columns = AuditColumns(stored)
                try await conn.query(
                    """
                    INSERT INTO audit_events (org_id, device_id, seq, at, at_ms, kind, door_id, credential_id, user_id,
                        reason, detail, prev_hash, hash, flags)
                    SELECT r.org, r.dev, r.seq, timestamptz 'epoch' + (r.at_ms / 1000) * interval '1 second' + (r.at_ms % 1000) * interval '1 millisecond', r.at_ms, r.kind,
                        CASE WHEN r.absent & 1 = 0 THEN r.door END, CASE WHEN r.absent & 2 = 0 THEN r.cred END,
                        CASE WHEN r.absent & 4 = 0 THEN r.usr END, CASE WHEN r.absent & 8 = 0 THEN r.reason END,
                        CASE WHEN r.absent & 16 = 0 THEN r.detail END, decode(r.prev, 'hex'), decode(r.hash, 'hex'),
                        string_to_array(NULLIF(r.flags, ''), ',')
                    FROM unnest(\(columns.org)::text[], \(columns.dev)::text[], \(columns.seq)::bigint[],
                        \(columns.atMillis)::bigint[], \(columns.kind)::text[], \(columns.door)::text[],
                        \(columns.credential)::text[], \(columns.user)::text[], \(columns.reason)::text[],
                        \(columns.detail)::text[], \(columns.prevHash)::text[], \(columns.hash)::text[],
                        \(columns.flags)::text[], \(columns.absent)::integer[])
                        AS r(org, dev, seq, at_ms, kind, door, cred, usr, reason, detail, prev, hash, flags, absent)
                    ON CONFLICT DO NOTHING
                    """,
                    logger: logger
                )
            }
            let alarms = stored.filter { $0.record.kind == "alarm" || $0.record.kind == "alarm_cleared" }
            if !alarms.isEmpty {
                // Alarms raised while the board was offline reach the alarm list with the trail.
                let a = AuditColumns(alarms)
                try await conn.query(
                    """
                    INSERT INTO alarms (org_id, device_id, seq, at, kind, reason, detail)
                    SELECT r.org, r.dev, r.seq, timestamptz 'epoch' + (r.at_ms / 1000) * interval '1 second' + (r.at_ms % 1000) * interval '1 millisecond', r.kind,
                        CASE WHEN r.absent & 8 = 0 THEN r.reason END, CASE WHEN r.absent & 16 = 0 THEN r.detail END
                    FROM unnest(\(a.org)::text[], \(a.dev)::text[], \(a.seq)::bigint[], \(a.atMillis)::bigint[],
                        \(a.kind)::text[], \(a.reason)::text[], \(a.detail)::text[], \(a.absent)::integer[])
                        AS r(org, dev, seq, at_ms, kind, reason, detail, absent)
                    ON CONFLICT DO NOTHING
                    """,
                    logger: logger
                )
            }
            let advanced = Array(moved)
            try await conn.query(
                """
                UPDATE devices d SET audit_seq = u.seq, audit_hash = decode(u.hash, 'hex'),
                    chain_flagged = d.chain_flagged OR u.flagged, last_seen = now()
                FROM unnest(\(advanced.map(\.org))::text[], \(advanced.map(\.device))::text[],
                    \(advanced.map { position[$0]!.seq })::bigint[],
                    \(advanced.map { Hex.encode(position[$0]!.hash ?? []) })::text[],
                    \(advanced.map { flaggedBy[$0] ?? false })::boolean[]) AS u(org, id, seq, hash, flagged)
                WHERE d.org_id = u.org AND d.id = u.id
                """,
                logger: logger
            )
            return results
        }
    }

    struct DeviceKey: Hashable {
        var org: String
        var device: String
    }

    struct FlaggedRecord {
        var org: String
        var device: String
        var record: WireAuditRecord
        var flags: [String]
    }

    // MARK: devices

    /// The door of a registered device, nil for a device this org does not have (its messages are dropped).
    public func doorOf(org: String, device: String) async throws(CloudError) -> String? {
        try await wrap("looking up \(org)/\(device)") {
            for try await d in try await client.query(
                "SELECT door_id FROM devices WHERE org_id = \(org) AND id = \(device)",
                logger: logger
            ).decode(String.self) {
                return d
            }
            return nil
        }
    }

    public func recordState(org: String, device: String, json: String, appliedVersion: Int64?) async throws(CloudError)
    {
        try await wrap("storing the state of \(org)/\(device)") {
            try await client.query(
                "UPDATE devices SET state = \(json)::jsonb, applied_version = \(appliedVersion), last_seen = now() WHERE org_id = \(org) AND id = \(device)",
                logger: logger
            )
        }
    }

    public func recordOnline(org: String, device: String, online: OnlineStatus) async throws(CloudError) {
        try await wrap("storing the presence of \(org)/\(device)") {
            // A will from an earlier boot must not mark the current run offline.
            try await client.query(
                """
                UPDATE devices SET online = \(online.online), boot = \(online.boot), last_seen = now()
                WHERE org_id = \(org) AND id = \(device) AND (\(online.online) OR boot IS NULL OR boot = \(online.boot))
                """,
                logger: logger
            )
        }
    }

    public func recordAlarm(org: String, device: String, alarm: AlarmMessage) async throws(CloudError) {
        try await wrap("storing an alarm of \(org)/\(device)") {
            let at = Date(timeIntervalSince1970: Double(alarm.atMillis) / 1000)
            try await client.query(
                """
                INSERT INTO alarms (org_id, device_id, seq, at, kind, reason, detail)
                VALUES (\(org), \(device), \(alarm.seq), \(at), \(alarm.kind), \(alarm.reason), \(alarm.detail))
                ON CONFLICT DO NOTHING
                """,
                logger: logger
            )
        }
    }

    public func recordCommandResult(org: String, device: String, result: CommandResult) async throws(CloudError) {
        try await wrap("storing a command result of \(org)/\(device)") {
            try await client.query(
                """
                UPDATE commands SET result_code = \(result.code.rawValue), result_detail = \(result.detail), result_at = now()
                WHERE jti = \(result.jti) AND org_id = \(org) AND device_id = \(device) AND result_code IS NULL
                """,
                logger: logger
            )
        }
    }
}
