import Foundation
import Logging
import PostgresNIO
import Testing
import WardenCloud
import WardenCore
import WardenTestSupport
import WardenWire

/// The consumer's two ways of writing audit rows, against a real PostgreSQL 15: COPY (the group commit's fast path)
/// and INSERT ... ON CONFLICT (the tolerant one) must store the same rows, field for field; a group the database
/// refuses is reported as such, and the tolerant path still stores it.
@Suite struct AuditStoreTests {
    /// Every field shape a record can take: absent and empty fields, COPY's special characters (tab, newline,
    /// carriage return, backslash, `\N` as text), non-ASCII text, a record whose hash is wrong (stored flagged).
    static func awkwardChain(from start: Int64 = 1) -> [AuditRecord] {
        let events = [
            AuditEvent(.accessGranted, door: "front", credentialID: "c1", userID: "alice"),
            AuditEvent(.accessDenied, door: "", credentialID: nil, userID: "", reason: "revoked", detail: nil),
            AuditEvent(.input, door: "front", reason: "tab\there", detail: "line one\nline two\r\nback\\slash \\N"),
            AuditEvent(.alarm, door: "front", reason: "forced_open", detail: "Tür 🚪 aufgebrochen"),
            AuditEvent(.relay, door: "front", detail: "\\x00 not bytes"),
        ]
        var out: [AuditRecord] = []
        var prev = AuditRecord.genesisHash
        // The epoch, the end of a day before a leap day, a leap day, an ordinary instant and the last millisecond
        // allowed, so the timestamp's formatting is exercised across its range.
        let times: [Int64] = [0, 1_709_164_799_999, 951_782_400_000, 1_800_000_000_123, AuditBatch.maxAtMillis]
        for (i, e) in events.enumerated() {
            let at = times[i]
            var r = AuditRecord(seq: start + Int64(i), timeMillis: at, event: e, prevHash: prev)
            if i == 4 {
                r = AuditRecord(
                    seq: r.seq,
                    timeMillis: at,
                    event: e,
                    prevHash: prev,
                    hash: Array(repeating: 9, count: 32)
                )
            }
            out.append(r)
            prev = r.hash
        }
        return out
    }

    struct SetUpFailed: Error, CustomStringConvertible { var description: String }

    final class Database: Sendable {
        let pg: PostgresServer
        let store: CloudStore
        let runner: Task<Void, Never>

        init() async throws {
            pg = try PostgresServer.start()
            var config = CloudConfig()
            config.database.port = pg.port
            store = CloudStore(config.database, logger: Logger(label: "test"))
            let client = store.client
            runner = Task { await client.run() }
            try await store.migrate()
            let (code, out) = pg.psql(
                """
                INSERT INTO orgs(id, name) VALUES ('acme', 'Acme');
                INSERT INTO sites(org_id, id, name, time_zone) VALUES ('acme', 'hq', 'HQ', 'UTC');
                INSERT INTO doors(org_id, id, site_id, name) VALUES ('acme', 'front', 'hq', 'Front');
                INSERT INTO devices(org_id, id, door_id) VALUES ('acme', 'copy', 'front'), ('acme', 'insert', 'front');
                """
            )
            guard code == 0 else { throw SetUpFailed(description: out) }
        }

        func rows(_ device: String) -> String {
            pg.psql(
                """
                SET TIME ZONE 'UTC';
                SELECT seq, at, at_ms, kind, door_id IS NULL, door_id,
                    credential_id IS NULL, credential_id, user_id IS NULL, user_id, reason IS NULL, reason,
                    detail IS NULL, detail, encode(prev_hash, 'hex'), encode(hash, 'hex'), flags
                FROM audit_events WHERE device_id = '\(device)' ORDER BY seq
                """
            ).1
        }

        deinit {
            runner.cancel()
            pg.stop()
        }
    }

    static func item(_ device: String, _ records: [AuditRecord]) -> CloudStore.IngestItem {
        CloudStore.IngestItem(org: "acme", device: device, batch: AuditBatch(boot: "b", records: records.map(\.wire)))
    }

    @Test func copyAndInsertStoreTheSameRows() async throws {
        let db = try await Database()
        let chain = Self.awkwardChain()
        let copied = try await db.store.ingest([Self.item("copy", chain)], bulk: true)
        let inserted = try await db.store.ingest([Self.item("insert", chain)], bulk: false)
        #expect(copied == inserted)
        #expect(copied.first??.inserted == 5 && copied.first??.flagged == 1)
        let viaCopy = db.rows("copy")
        #expect(viaCopy == db.rows("insert"), "COPY:\n\(viaCopy)\nINSERT:\n\(db.rows("insert"))")
        #expect(viaCopy.contains("line one\nline two\r\nback\\slash \\N"), "\(viaCopy)")
        #expect(viaCopy.contains("Tür 🚪 aufgebrochen"))
        for text in [
            "1970-01-01 00:00:00+00", "2024-02-28 23:59:59.999+00", "2000-02-29 00:00:00+00",
            "2027-01-15 08:00:00.123+00",
            "9999-12-31 23:59:59.999+00",
        ] {
            #expect(viaCopy.contains("|\(text)|"), "\(text) in\n\(viaCopy)")
        }
        #expect(viaCopy.contains("{hash_invalid}"))
        let exact = db.pg.psql(
            "SELECT bool_and(at = timestamptz 'epoch' + (at_ms / 1000) * interval '1 second' + (at_ms % 1000) * interval '1 millisecond') FROM audit_events"
        ).1
        #expect(exact.trimmingCharacters(in: .whitespacesAndNewlines) == "t")
        // The alarm reached the alarm list on both paths.
        #expect(db.pg.psql("SELECT count(*) FROM alarms").1.trimmingCharacters(in: .whitespacesAndNewlines) == "2")
    }

    @Test func aRowStoredOutsideThePositionRuleFailsTheCopyButNotTheTolerantPath() async throws {
        let db = try await Database()
        let chain = Self.awkwardChain()
        _ = try await db.store.ingest([Self.item("copy", Array(chain.prefix(2)))])
        // A row past the device's position, as an older consumer or a hand repair could leave it.
        let (code, out) = db.pg.psql(
            """
            INSERT INTO audit_events (org_id, device_id, seq, at, at_ms, kind, prev_hash, hash)
            VALUES ('acme', 'copy', 4, timestamptz 'epoch' + \(chain[3].timeMillis / 1000) * interval '1 second' + \(chain[3].timeMillis % 1000) * interval '1 millisecond',
                \(chain[3].timeMillis), 'alarm',
                '\\x00', '\\x00')
            """
        )
        #expect(code == 0, "\(out)")
        let rest = Self.item("copy", Array(chain.dropFirst(2)))
        await #expect {
            _ = try await db.store.ingest([rest], bulk: true)
        } throws: { error in
            (error as? CloudError)?.code == .invalid && "\(error)".contains("23505")
        }
        let stored = try await db.store.ingest([rest], bulk: false)
        #expect(stored.first??.ack?.upToSeq == 5, "the tolerant path stores the rest and moves the position")
        #expect(
            db.pg.psql("SELECT count(*) FROM audit_events").1.trimmingCharacters(in: .whitespacesAndNewlines) == "5"
        )
    }
}
