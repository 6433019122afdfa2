import Testing
import WardenCore
import WardenWire

@Suite struct AuditChainTests {
    func chain(_ n: Int) -> [AuditRecord] {
        var out: [AuditRecord] = []
        var prev = AuditRecord.genesisHash
        for i in 1...n {
            let r = AuditRecord(
                seq: Int64(i),
                timeMillis: 1000 * Int64(i),
                event: AuditEvent(.accessGranted, door: "front", credentialID: "c\(i)", userID: "u"),
                prevHash: prev
            )
            prev = r.hash
            out.append(r)
        }
        return out
    }

    @Test func intactChainVerifies() throws {
        let r = try AuditChain.verify(chain(20))
        #expect(r.count == 20 && r.firstSeq == 1 && r.lastSeq == 20)
    }

    @Test func editDeleteAndReplaceAreDetected() {
        var edited = chain(10)
        edited[4].event.userID = "mallory"
        #expect(throws: AuditChain.Violation(seq: 5, problem: "hash does not match its contents (edited)")) {
            try AuditChain.verify(edited)
        }
        var deleted = chain(10)
        deleted.remove(at: 6)
        #expect(throws: AuditChain.Violation.self) { try AuditChain.verify(deleted) }
        var replaced = chain(10)
        replaced[3] = AuditRecord(
            seq: 4,
            timeMillis: 4000,
            event: AuditEvent(.accessDenied),
            prevHash: AuditRecord.genesisHash
        )
        #expect(throws: AuditChain.Violation(seq: 4, problem: "previous-hash link broken (a record was replaced)")) {
            try AuditChain.verify(replaced)
        }
    }

    @Test func prunedHeadStillVerifies() throws {
        let r = try AuditChain.verify(chain(10).dropFirst(4))
        #expect(r.firstSeq == 5 && r.count == 6)
    }
}
