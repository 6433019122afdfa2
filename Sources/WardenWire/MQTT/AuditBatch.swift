/// A board's upload: consecutive journal records (at most `maxRecords` and `maxBytes`), tagged with the boot so the
/// cloud can tell a re-send after a reboot from one within a run.
public struct AuditBatch: Codable, Sendable, Equatable {
    public static let maxRecords = 100
    public static let maxBytes = 64 * 1024

    public var boot: String
    public var records: [WireAuditRecord]

    public init(boot: String, records: [WireAuditRecord]) {
        self.boot = boot
        self.records = records
    }

    /// Decodes and checks the shape: 1...100 records, consecutive sequence numbers.
    public static func decode(_ bytes: [UInt8]) throws(WireError) -> AuditBatch {
        guard bytes.count <= maxBytes + 1024 else {
            throw WireError("audit batch: \(bytes.count) bytes is over the \(maxBytes)-byte limit")
        }
        let batch = try WireJSON.decode(AuditBatch.self, from: bytes, what: "audit batch")
        guard !batch.records.isEmpty, batch.records.count <= maxRecords else {
            throw WireError("audit batch: \(batch.records.count) records; 1 to \(maxRecords) allowed")
        }
        for (a, b) in zip(batch.records, batch.records.dropFirst()) where b.seq != a.seq + 1 {
            throw WireError("audit batch: seq \(b.seq) follows \(a.seq); records must be consecutive")
        }
        return batch
    }
}
