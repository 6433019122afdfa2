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
        for r in batch.records { try check(r) }
        return batch
    }

    /// The end of year 9999 in Unix milliseconds: the latest `at_ms` a record may carry.
    public static let maxAtMillis: Int64 = 253_402_300_799_999

    /// What a database column can hold: hashes of 32 bytes in hex, a timestamp from 1970 to year 9999, text
    /// without NUL. A record that breaks these is refused with its batch (the board's own code never makes one), so
    /// it can never fail a store shared with other boards' records.
    static func check(_ r: WireAuditRecord) throws(WireError) {
        guard isHash(r.hash) else { throw WireError("audit batch: record \(r.seq): hash must be 64 hex digits") }
        guard isHash(r.prevHash) else {
            throw WireError("audit batch: record \(r.seq): prev_hash must be 64 hex digits")
        }
        guard (0...maxAtMillis).contains(r.atMillis) else {
            throw WireError("audit batch: record \(r.seq): at_ms \(r.atMillis) is outside 0...\(maxAtMillis)")
        }
        guard !r.kind.isEmpty else { throw WireError("audit batch: record \(r.seq): kind is empty") }
        try noNUL(r.kind, "kind", r.seq)
        try noNUL(r.door, "door", r.seq)
        try noNUL(r.credentialID, "credential_id", r.seq)
        try noNUL(r.userID, "user_id", r.seq)
        try noNUL(r.reason, "reason", r.seq)
        try noNUL(r.detail, "detail", r.seq)
    }

    private static func isHash(_ s: String) -> Bool {
        var s = s
        return s.withUTF8 { $0.count == 64 && $0.allSatisfy(isHexDigit) }
    }

    private static func noNUL(_ text: String?, _ name: String, _ seq: Int64) throws(WireError) {
        guard var text else { return }
        if text.withUTF8({ $0.contains(0) }) {
            throw WireError("audit batch: record \(seq): \(name) contains a NUL character")
        }
    }

    private static func isHexDigit(_ c: UInt8) -> Bool {
        (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46)
    }
}
