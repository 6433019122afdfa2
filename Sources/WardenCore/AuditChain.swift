/// Checks a run of journal records, oldest first. The first record's `prevHash` is taken on trust (older records may
/// have been pruned after the cloud acknowledged them); every later link, hash and sequence number must hold.
public enum AuditChain {
    public struct Report: Sendable, Equatable {
        public var count: Int
        public var firstSeq: Int64?
        public var lastSeq: Int64?
        public var lastHash: [UInt8]
    }

    public struct Violation: Error, Sendable, Equatable, CustomStringConvertible {
        public var seq: Int64
        public var problem: String
        public init(seq: Int64, problem: String) {
            self.seq = seq
            self.problem = problem
        }
        public var description: String { "audit record \(seq): \(problem)" }
    }

    public static func verify(_ records: some Sequence<AuditRecord>) throws(Violation) -> Report {
        var report = Report(count: 0, firstSeq: nil, lastSeq: nil, lastHash: AuditRecord.genesisHash)
        var previous: AuditRecord?
        for r in records {
            guard r.hashIsValid else { throw Violation(seq: r.seq, problem: "hash does not match its contents (edited)") }
            if let p = previous {
                guard r.seq == p.seq + 1 else {
                    throw Violation(seq: r.seq, problem: "sequence jumps from \(p.seq) (records missing)")
                }
                guard r.prevHash == p.hash else {
                    throw Violation(seq: r.seq, problem: "previous-hash link broken (a record was replaced)")
                }
            } else {
                report.firstSeq = r.seq
            }
            previous = r
            report.count += 1
        }
        report.lastSeq = previous?.seq
        report.lastHash = previous?.hash ?? AuditRecord.genesisHash
        return report
    }
}
