import Foundation
import Testing
import WardenCloud
import WardenCore
import WardenWire

/// What the cloud stores and acknowledges for a batch, decided from the stored position alone.
@Suite struct AuditIngestPlanTests {
    static func chain(_ n: Int, from start: Int64 = 1, prev: [UInt8] = AuditRecord.genesisHash) -> [AuditRecord] {
        var out: [AuditRecord] = []
        var prev = prev
        for i in 0..<n {
            let r = AuditRecord(
                seq: start + Int64(i),
                timeMillis: 1_800_000_000_000 + Int64(i),
                event: AuditEvent(.accessGranted, door: "front", credentialID: "c\(i)", userID: "u"),
                prevHash: prev
            )
            out.append(r)
            prev = r.hash
        }
        return out
    }

    static func batch(_ records: [AuditRecord]) -> AuditBatch { AuditBatch(boot: "b", records: records.map(\.wire)) }

    @Test func aFreshDeviceStartsAnywhereAndIsAcknowledgedWithTheLastHash() {
        let records = Self.chain(5, from: 42, prev: Array(repeating: 7, count: 32))
        let plan = AuditIngestPlan.plan(Self.batch(records), storedSeq: 0, storedHash: nil)
        #expect(plan.rows.count == 5 && plan.rows.allSatisfy { $0.flags.isEmpty })
        #expect(plan.ack == AuditAck(upToSeq: 46, hash: Hex.encode(records[4].hash)))
    }

    @Test func aRepeatInsertsNothingAndReacknowledges() {
        let records = Self.chain(5)
        let plan = AuditIngestPlan.plan(Self.batch(records), storedSeq: 5, storedHash: records[4].hash)
        #expect(plan.rows.isEmpty && !plan.outOfOrder)
        #expect(plan.ack?.upToSeq == 5)
    }

    @Test func aBatchPastAHoleIsNotStoredSoTheBoardResendsInOrder() {
        let records = Self.chain(10)
        let plan = AuditIngestPlan.plan(Self.batch(Array(records[6...])), storedSeq: 3, storedHash: records[2].hash)
        #expect(plan.outOfOrder && plan.rows.isEmpty)
        #expect(plan.ack?.upToSeq == 3, "the current position, so the board knows where the cloud is")
    }

    @Test func anOverlappingBatchStoresOnlyTheNewPart() {
        let records = Self.chain(10)
        let plan = AuditIngestPlan.plan(Self.batch(Array(records[2...])), storedSeq: 5, storedHash: records[4].hash)
        #expect(plan.rows.map(\.record.seq) == [6, 7, 8, 9, 10])
        #expect(plan.rows.allSatisfy { $0.flags.isEmpty })
    }

    @Test func aForgedOrRelinkedRecordIsStoredAsFlaggedEvidence() {
        var records = Self.chain(4)
        var wire = records.map(\.wire)
        wire[1].userID = "mallory"  // changed after hashing
        let plan = AuditIngestPlan.plan(AuditBatch(boot: "b", records: wire), storedSeq: 0, storedHash: nil)
        #expect(plan.rows[1].flags == ["hash_invalid"])
        #expect(plan.rows[0].flags.isEmpty && plan.rows[2].flags.isEmpty)
        // A chain that does not continue the stored one.
        records = Self.chain(2, from: 5, prev: Array(repeating: 9, count: 32))
        let relinked = AuditIngestPlan.plan(
            Self.batch(records),
            storedSeq: 4,
            storedHash: Array(repeating: 1, count: 32)
        )
        #expect(relinked.rows[0].flags == ["link_broken"])
        #expect(relinked.rows[1].flags.isEmpty)
    }
}
