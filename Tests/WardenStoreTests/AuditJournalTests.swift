import Foundation
import GRDB
import Testing
import WardenCore
import WardenStore
import WardenWire

@Suite struct AuditJournalTests {
    let dir = TempDir()

    func journal(_ retention: AuditJournal.Retention = .init()) throws -> (WardenDatabase, AuditJournal) {
        let db = try WardenDatabase(path: dir.path("warden.sqlite"))
        return (db, try AuditJournal(database: db, retention: retention))
    }

    @Test func appendIsImmediateAndFlushMakesDurableAndChained() async throws {
        let (_, j) = try journal()
        let runner = Task { await j.run() }
        for i in 0..<500 {
            j.append(AuditEvent(.accessGranted, door: "front", credentialID: "c\(i)"), timeMillis: Int64(i))
        }
        #expect(j.lastSeq == 500)
        await j.flush()
        #expect(j.durableSeq == 500)
        let report = try j.verify()
        #expect(report.count == 500 && report.firstSeq == 1 && report.lastSeq == 500)
        j.finish()
        await runner.value
    }

    @Test func reopenContinuesTheChain() async throws {
        do {
            let (_, j) = try journal()
            let r = Task { await j.run() }
            for i in 0..<10 { j.append(AuditEvent(.input, reason: "door_contact"), timeMillis: Int64(i)) }
            await j.flush()
            j.finish()
            await r.value
        }
        let (_, j) = try journal()
        #expect(j.lastSeq == 10)
        let r = Task { await j.run() }
        j.append(AuditEvent(.daemon, reason: "started"), timeMillis: 11)
        await j.flush()
        #expect(try j.verify().count == 11)
        j.finish()
        await r.value
    }

    @Test func editOnDiskIsDetected() async throws {
        let (db, j) = try journal()
        let r = Task { await j.run() }
        for i in 0..<5 {
            j.append(AuditEvent(.accessDenied, credentialID: "c\(i)", reason: "revoked"), timeMillis: Int64(i))
        }
        await j.flush()
        try await db.pool.write { db in try db.execute(sql: "UPDATE audit SET reason = 'expired' WHERE seq = 3") }
        #expect(throws: AuditChain.Violation.self) { try j.verify() }
        try await db.pool.write { db in try db.execute(sql: "UPDATE audit SET reason = 'revoked' WHERE seq = 3") }
        #expect(try j.verify().count == 5)
        try await db.pool.write { db in try db.execute(sql: "DELETE FROM audit WHERE seq = 2") }
        #expect(throws: AuditChain.Violation.self) { try j.verify() }
        j.finish()
        await r.value
    }

    @Test func retentionKeepsUnackedUntilHardFullThenWritesGap() async throws {
        let (_, j) = try journal(.init(maxRecords: 10, maxAge: 3600, hardMax: 50))
        let r = Task { await j.run() }
        let now = Date(timeIntervalSince1970: 1_790_000_000)
        let ms = Int64(now.timeIntervalSince1970 * 1000)
        for i in 0..<40 { j.append(AuditEvent(.input, reason: "rex"), timeMillis: ms + Int64(i)) }
        await j.flush()
        #expect(try j.prune(now: now) == 0, "unacknowledged records are kept")
        try j.acknowledge(upTo: 30)
        #expect(try j.prune(now: now) == 30, "acked records beyond maxRecords (10 newest by seq) go")
        #expect(try j.count() == 10)
        for i in 0..<60 { j.append(AuditEvent(.input, reason: "rex"), timeMillis: ms + 100 + Int64(i)) }
        await j.flush()
        let deleted = try j.prune(now: now)
        await j.flush()
        #expect(deleted == 21)
        let recs = try j.records(after: 0, limit: 100)
        #expect(recs.last?.event.kind == .gap)
        #expect(recs.last?.event.detail == "pruned unacknowledged records 31-51")
        #expect(try j.verify().count == 50)
        j.finish()
        await r.value
    }

    @Test func oldAckedRecordsExpireByAge() async throws {
        let (_, j) = try journal(.init(maxRecords: 1000, maxAge: 3600, hardMax: 5000))
        let r = Task { await j.run() }
        let now = Date(timeIntervalSince1970: 1_790_000_000)
        let ms = Int64(now.timeIntervalSince1970 * 1000)
        for i in 0..<5 { j.append(AuditEvent(.input), timeMillis: ms - 7_200_000 + Int64(i)) }
        for i in 0..<5 { j.append(AuditEvent(.input), timeMillis: ms + Int64(i)) }
        await j.flush()
        try j.acknowledge(upTo: 10)
        #expect(try j.prune(now: now) == 5)
        j.finish()
        await r.value
    }
}
