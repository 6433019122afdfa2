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

    /// Verifies records fed one at a time, oldest first, in constant memory (a million-record journal is read in
    /// pages and never held whole).
    public struct Verifier: Sendable {
        public private(set) var report = Report(
            count: 0,
            firstSeq: nil,
            lastSeq: nil,
            lastHash: AuditRecord.genesisHash
        )
        private var previousSeq: Int64?

        public init() {}

        public mutating func feed(_ r: AuditRecord) throws(Violation) {
            guard r.hashIsValid else {
                throw Violation(seq: r.seq, problem: "hash does not match its contents (edited)")
            }
            if let p = previousSeq {
                guard r.seq == p + 1 else {
                    throw Violation(seq: r.seq, problem: "sequence jumps from \(p) (records missing)")
                }
                guard r.prevHash == report.lastHash else {
                    throw Violation(seq: r.seq, problem: "previous-hash link broken (a record was replaced)")
                }
            } else {
                report.firstSeq = r.seq
            }
            previousSeq = r.seq
            report.count += 1
            report.lastSeq = r.seq
            report.lastHash = r.hash
        }
    }

    public static func verify(_ records: some Sequence<AuditRecord>) throws(Violation) -> Report {
        var v = Verifier()
        for r in records { try v.feed(r) }
        return v.report
    }
}
