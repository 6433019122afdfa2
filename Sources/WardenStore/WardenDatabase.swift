import Foundation
import GRDB
import WardenCore
import WardenWire

/// The board's one SQLite file (WAL): access list, audit journal and small state. One front door: everything goes
/// through this type and `AuditJournal`, SQL only with bound parameters, migrations frozen once released.
public final class WardenDatabase: Sendable {
    public let pool: DatabasePool
    public let path: String

    public init(path: String) throws(StoreError) {
        self.path = path
        var config = Configuration()
        config.label = "warden"
        config.busyMode = .timeout(5)
        config.prepareDatabase { db in
            // FULL: each commit fsyncs the WAL, so a record the journal reports durable survives a power cut.
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        // SQLite gives the -wal and -shm files the main file's mode: create it 0600 first, so none of the three is
        // ever readable by others (it holds the access list and the audit trail), and tighten files left by older
        // versions.
        let fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
        if fd >= 0 { close(fd) }
        for file in [path, path + "-wal", path + "-shm"] { chmod(file, 0o600) }
        do {
            pool = try DatabasePool(path: path, configuration: config)
            try Self.migrator.migrate(pool)
        } catch {
            throw StoreError(
                .open,
                "cannot open the database \(path): \(error); check the directory exists and is writable"
            )
        }
    }

    /// SQLite's `PRAGMA quick_check`: "ok", or what is damaged (`wardenctl doctor`).
    public func quickCheck() throws(StoreError) -> String {
        do {
            return try pool.read { db in try String.fetchAll(db, sql: "PRAGMA quick_check").joined(separator: "; ") }
        } catch { throw StoreError(.open, "cannot check the database \(path): \(error)") }
    }

    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE access_credential (
                        id TEXT PRIMARY KEY NOT NULL,
                        user_id TEXT NOT NULL,
                        status TEXT NOT NULL CHECK (status IN ('active', 'revoked')),
                        changed_version INTEGER NOT NULL
                    ) WITHOUT ROWID;
                    CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL) WITHOUT ROWID;
                    CREATE TABLE audit (
                        seq INTEGER PRIMARY KEY NOT NULL,
                        time_ms INTEGER NOT NULL,
                        kind TEXT NOT NULL,
                        door TEXT, credential_id TEXT, user_id TEXT, reason TEXT, detail TEXT,
                        prev_hash BLOB NOT NULL,
                        hash BLOB NOT NULL,
                        acked INTEGER NOT NULL DEFAULT 0
                    );
                    CREATE INDEX audit_time ON audit(time_ms);
                    """
            )
        }
        // MQTT sync (issue 11): signed commands already executed, kept until they expire, so a replay after a
        // reboot is still refused; and an index to find the oldest record the cloud has not acknowledged.
        m.registerMigration("v2-sync") { db in
            try db.execute(
                sql: """
                    CREATE TABLE executed_command (
                        jti TEXT PRIMARY KEY NOT NULL,
                        exp INTEGER NOT NULL
                    ) WITHOUT ROWID;
                    CREATE INDEX audit_unacked ON audit(seq) WHERE acked = 0;
                    """
            )
        }
        return m
    }

    // MARK: signed commands

    /// Records a command's nonce as executed, unless it already was: true if this is its first use. Nonces whose
    /// `exp` has passed (by `now`) are dropped in the same transaction; they can no longer pass the expiry check.
    public func claimCommand(jti: String, exp: Int64, now: Int64) throws(StoreError) -> Bool {
        do {
            return try pool.write { db in
                try db.execute(sql: "DELETE FROM executed_command WHERE exp < ?", arguments: [now - 300])
                try db.execute(
                    sql: "INSERT INTO executed_command(jti, exp) VALUES (?, ?) ON CONFLICT(jti) DO NOTHING",
                    arguments: [jti, exp]
                )
                return db.changesCount == 1
            }
        } catch { throw StoreError(.io, "recording command \(jti): \(error)") }
    }

    // MARK: small state

    public func meta(_ key: String) throws(StoreError) -> String? {
        do {
            return try pool.read { db in
                try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = ?", arguments: [key])
            }
        } catch {
            throw StoreError(.io, "reading state '\(key)': \(error)")
        }
    }

    public func setMeta(_ key: String, _ value: String) throws(StoreError) {
        do {
            try pool.write { db in
                try db.execute(
                    sql:
                        "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    arguments: [key, value]
                )
            }
        } catch { throw StoreError(.io, "writing state '\(key)': \(error)") }
    }

    // MARK: access list

    /// Indexed lookup by credential id (primary key); this is on the decision path.
    public func listStatus(credentialID: String) throws(StoreError) -> AccessListStatus {
        do {
            let s = try pool.read { db in
                try String.fetchOne(
                    db.cachedStatement(sql: "SELECT status FROM access_credential WHERE id = ?"),
                    arguments: [credentialID]
                )
            }
            switch s {
            case "active": return .active
            case "revoked": return .revoked
            default: return .unlisted
            }
        } catch { throw StoreError(.io, "looking up credential: \(error)") }
    }

    public func accessListVersion() throws(StoreError) -> Int64 {
        Int64(try meta("access_list_version") ?? "0") ?? 0
    }

    public func accessListCounts() throws(StoreError) -> (active: Int, revoked: Int) {
        do {
            return try pool.read { db in
                let a = try Int.fetchOne(db, sql: "SELECT count(*) FROM access_credential WHERE status = 'active'") ?? 0
                let r =
                    try Int.fetchOne(db, sql: "SELECT count(*) FROM access_credential WHERE status = 'revoked'") ?? 0
                return (a, r)
            }
        } catch { throw StoreError(.io, "counting access list: \(error)") }
    }

    /// The whole access list as an in-memory index for the decision path (`AccessListIndex`): one scan at start and
    /// after a snapshot. Rows stream through a cursor, so the 100,000 ids are never all held as Strings at once.
    public func accessListIndex() throws(StoreError) -> AccessListIndex {
        let index: AccessListIndex
        do {
            index = try pool.read { db in
                let count = try Int.fetchOne(db, sql: "SELECT count(*) FROM access_credential") ?? 0
                let cursor = try Row.fetchCursor(db, sql: "SELECT id, status FROM access_credential")
                return try AccessListIndex(capacity: count) { add in
                    while let row = try cursor.next() {
                        let status: String = row[1]
                        add(row[0], status == "active" ? .active : .revoked)
                    }
                }
            }
        } catch { throw StoreError(.io, "loading the access list: \(error)") }
        // The scan filled a reader connection's page cache (up to 2 MB) with pages no decision reads any more: close
        // the readers, or the 40 MB RSS budget (docs/benchmarks.md) is gone.
        pool.releaseMemory()
        return index
    }

    /// Applies a verified update in one transaction. A delta must start at the current version (else `.versionGap`:
    /// ask the cloud for a snapshot); an update for another door is refused. Returns what changed, for the in-memory
    /// index: `.replaced` for a snapshot, else each touched id with its status before (read in the same transaction)
    /// and after.
    @discardableResult
    public func apply(_ update: AccessListUpdate, scope: DoorScope) throws(StoreError) -> AccessListIndex.Update {
        guard update.doors.contains(scope.doorID) || !scope.groups.isDisjoint(with: update.doors) else {
            throw StoreError(
                .wrongDoor,
                "access-list update v\(update.ver) is for \(update.doors), not door '\(scope.doorID)'"
            )
        }
        do {
            return try pool.write { db in
                let current =
                    Int64(
                        try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'access_list_version'") ?? "0"
                    ) ?? 0
                if update.snapshot {
                    guard update.ver >= current else {
                        throw StoreError(
                            .versionGap,
                            "snapshot v\(update.ver) is older than the applied v\(current); ignored"
                        )
                    }
                    try db.execute(sql: "DELETE FROM access_credential")
                } else {
                    guard update.base == current else {
                        throw StoreError(
                            .versionGap,
                            "delta v\(update.base ?? -1)->v\(update.ver) does not start at the applied v\(current); request a snapshot"
                        )
                    }
                }
                // Each touched id's status before this update (first sight) and after (last write), for the index.
                // Keyed by UTF-8 bytes: SQLite compares ids byte for byte, Swift `String` by canonical equivalence.
                var before: [[UInt8]: AccessListStatus] = [:]
                var after: [[UInt8]: AccessListStatus] = [:]
                var order: [String] = []
                let lookup = try db.cachedStatement(sql: "SELECT status FROM access_credential WHERE id = ?")
                func touch(_ id: String, _ status: AccessListStatus) throws {
                    guard !update.snapshot else { return }
                    let key = Array(id.utf8)
                    if before[key] == nil {
                        let s = try String.fetchOne(lookup, arguments: [id])
                        before[key] = s == "active" ? .active : s == "revoked" ? .revoked : .unlisted
                        order.append(id)
                    }
                    after[key] = status
                }
                let upsert = try db.makeStatement(
                    sql: """
                        INSERT INTO access_credential(id, user_id, status, changed_version) VALUES (?, ?, ?, ?)
                        ON CONFLICT(id) DO UPDATE SET user_id = excluded.user_id, status = excluded.status,
                        changed_version = excluded.changed_version
                        """
                )
                for e in update.grant {
                    try touch(e.id, .active)
                    try upsert.execute(arguments: [e.id, e.user, "active", update.ver])
                }
                for e in update.revoke {
                    try touch(e.id, .revoked)
                    try upsert.execute(arguments: [e.id, e.user, "revoked", update.ver])
                }
                try db.execute(
                    sql:
                        "INSERT INTO meta(key, value) VALUES ('access_list_version', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    arguments: [String(update.ver)]
                )
                if update.snapshot { return AccessListIndex.Update.replaced }
                return .changed(
                    order.map {
                        AccessListIndex.Change(id: $0, before: before[Array($0.utf8)]!, after: after[Array($0.utf8)]!)
                    }
                )
            }
        } catch let e as StoreError {
            throw e
        } catch { throw StoreError(.io, "applying access-list update v\(update.ver): \(error)") }
    }
}
