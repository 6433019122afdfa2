import WardenCore
import WardenWire

/// What one audit batch does to a device's stored trail, decided from values only (the stored position and the
/// batch): which records to insert, with which evidence flags, and what to acknowledge after the commit. Go-back-N:
/// a batch that does not continue the stored trail inserts nothing and re-acknowledges the current position, and
/// the board's re-send fills the hole in order.
public struct AuditIngestPlan: Sendable, Equatable {
    public struct Row: Sendable, Equatable {
        public var record: WireAuditRecord
        /// Evidence, stored with the record and alarmed: `hash_invalid` (the record does not hash to what it says),
        /// `link_broken` (its `prev_hash` is not the stored predecessor's hash), `unknown_kind`.
        public var flags: [String]
    }

    public var rows: [Row]
    /// The acknowledgement to publish once the transaction has committed.
    public var ack: AuditAck?
    /// The batch started past the stored trail (an earlier one was lost): nothing inserted.
    public var outOfOrder: Bool

    /// - Parameters:
    ///   - stored: the highest contiguous stored seq for the device and its hash; `(0, nil)` for a device never
    ///     heard from, whose trail may start at any seq (a board that ran stand-alone before it was connected).
    public static func plan(_ batch: AuditBatch, storedSeq: Int64, storedHash: [UInt8]?) -> AuditIngestPlan {
        let fresh = storedSeq == 0 && storedHash == nil
        let current = storedHash.map { AuditAck(upToSeq: storedSeq, hash: Hex.encode($0)) }
        let new = batch.records.filter { $0.seq > storedSeq }
        guard let first = new.first else { return AuditIngestPlan(rows: [], ack: current, outOfOrder: false) }
        guard fresh || first.seq == storedSeq + 1 else {
            return AuditIngestPlan(rows: [], ack: current, outOfOrder: true)
        }
        var expectedPrev: [UInt8]? = storedHash ?? (first.seq == 1 ? AuditRecord.genesisHash : nil)
        var rows: [Row] = []
        for w in new {
            var flags: [String] = []
            if let r = try? AuditRecord(wire: w) {
                if !r.hashIsValid { flags.append("hash_invalid") }
            } else if AuditKind(rawValue: w.kind) == nil {
                flags.append("unknown_kind")
            } else {
                flags.append("hash_invalid")
            }
            if let expectedPrev, Hex.decode(w.prevHash) != expectedPrev { flags.append("link_broken") }
            expectedPrev = Hex.decode(w.hash)
            rows.append(Row(record: w, flags: flags))
        }
        let last = new[new.count - 1]
        return AuditIngestPlan(
            rows: rows,
            ack: AuditAck(upToSeq: last.seq, hash: last.hash.lowercased()),
            outOfOrder: false
        )
    }
}
