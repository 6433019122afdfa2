import Foundation
import GRDB
import Synchronization
import Testing
import WardenCore
import WardenStore
import WardenWire

/// The journal on a store that cannot write: real SQLite refusing pages (`PRAGMA max_page_count`, the same
/// SQLITE_FULL a full disk gives), a bounded backlog, one report each way, and an honest gap record.
@Suite struct JournalFaultTests {
    let dir = TempDir()

    @Test func aFullStoreIsReportedOnceBoundsTheBacklogAndLeavesAGapRecord() async throws {
        let db = try WardenDatabase(path: dir.path("warden.sqlite"))
        let j = try AuditJournal(database: db, maxBacklog: 50)
        let reports = Mutex<[String?]>([])
        j.onWriteFault { message in reports.withLock { $0.append(message) } }
        let runner = Task { await j.run() }
        let big = String(repeating: "x", count: 2000)  // two records fill a page: new pages are needed at once
        for i in 0..<10 { j.append(AuditEvent(.input, reason: "door_contact", detail: big), timeMillis: Int64(i)) }
        await j.flush()
        #expect(j.durableSeq == 10)

        let pages = try await db.pool.write { db in try Int.fetchOne(db, sql: "PRAGMA page_count")! }
        try await db.pool.write { db in try db.execute(sql: "PRAGMA max_page_count = \(pages)") }
        for i in 10..<110 { j.append(AuditEvent(.input, reason: "door_contact", detail: big), timeMillis: Int64(i)) }
        #expect(j.pendingCount == 50, "the backlog is bounded")
        #expect(j.droppedCount == 50)
        while reports.withLock({ $0.isEmpty }) { await Task.yield() }
        #expect(reports.withLock { $0.count } == 1)
        #expect(reports.withLock { $0[0] }?.contains("full") == true, "\(reports.withLock { $0 })")
        #expect(j.lastWriteError != nil)
        #expect(j.durableSeq == 10, "nothing is reported durable that is not")

        try await db.pool.write { db in try db.execute(sql: "PRAGMA max_page_count = 1073741823") }
        await j.flush()
        while j.durableSeq < j.lastSeq { await j.flush() }
        #expect(reports.withLock { $0 }.count == 2)
        #expect(reports.withLock { $0.last! } == nil, "recovery is reported once")
        #expect(j.lastWriteError == nil)
        let report = try j.verify()
        #expect(report.count == 10 + 50 + 1, "kept records plus one gap record, chained")
        let gap = try j.records(after: 60, limit: 10)
        #expect(gap.first?.event.kind == .gap)
        #expect(gap.first?.event.reason == "journal_write_failed")
        #expect(gap.first?.event.detail?.hasPrefix("50 records were not stored") == true)
        j.finish()
        await runner.value
    }

    @Test func theDatabaseAndItsWALAndSHMFilesAre0600() async throws {
        let path = dir.path("fresh.sqlite")
        let db = try WardenDatabase(path: path)
        try await db.pool.write { db in try db.execute(sql: "INSERT INTO meta(key, value) VALUES ('k', 'v')") }
        for file in [path, path + "-wal", path + "-shm"] {
            let mode = try #require(try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int)
            #expect(mode == 0o600, "\(file) is \(String(mode, radix: 8))")
        }
    }

    @Test func verifyStreamsAMillionRecordsInConstantMemory() async throws {
        let db = try WardenDatabase(path: dir.path("big.sqlite"))
        // Written straight into the table (chained correctly) to keep the test quick; verify reads it in pages.
        let last = try await db.pool.write { db -> [UInt8] in
            var last = AuditRecord.genesisHash
            let stmt = try db.makeStatement(
                sql: "INSERT INTO audit(seq, time_ms, kind, prev_hash, hash) VALUES (?, ?, ?, ?, ?)"
            )
            for seq in Int64(1)...1_000_000 {
                let r = AuditRecord(seq: seq, timeMillis: seq, event: AuditEvent(.input), prevHash: last)
                try stmt.execute(arguments: [seq, seq, "input", Data(r.prevHash), Data(r.hash)])
                last = r.hash
            }
            return last
        }
        let j = try AuditJournal(database: db)
        let before = Self.residentKiB()
        let report = try j.verify()
        let grown = Self.residentKiB() - before
        #expect(report.count == 1_000_000 && report.lastHash == last)
        // Holding the records would take hundreds of MB; pages of 5,000 stay within a few MB.
        #expect(grown < 64 * 1024, "verify grew the resident set by \(grown) KiB")
    }

    static func residentKiB() -> Int {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
    }
}
