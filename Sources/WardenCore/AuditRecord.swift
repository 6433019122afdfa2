import Crypto
import Foundation
import WardenWire

/// One journal entry, sequence-numbered and hash-chained: `hash` covers every field and the previous record's hash,
/// so editing, reordering or dropping a record in the middle breaks verification at that point.
public struct AuditRecord: Sendable, Equatable, Codable {
    public static let genesisHash = [UInt8](repeating: 0, count: 32)

    public var seq: Int64
    /// Milliseconds since 1970 (trusted board time when known, the wall clock otherwise).
    public var timeMillis: Int64
    public var event: AuditEvent
    public var prevHash: [UInt8]
    public var hash: [UInt8]

    public init(seq: Int64, timeMillis: Int64, event: AuditEvent, prevHash: [UInt8]) {
        self.seq = seq
        self.timeMillis = timeMillis
        self.event = event
        self.prevHash = prevHash
        self.hash = AuditRecord.computeHash(seq: seq, timeMillis: timeMillis, event: event, prevHash: prevHash)
    }

    /// Rebuilds a stored record without recomputing its hash (verification compares).
    public init(seq: Int64, timeMillis: Int64, event: AuditEvent, prevHash: [UInt8], hash: [UInt8]) {
        self.seq = seq
        self.timeMillis = timeMillis
        self.event = event
        self.prevHash = prevHash
        self.hash = hash
    }

    /// SHA-256 over: "warden-audit-v1" | seq (8 bytes BE) | time ms (8 bytes BE) | kind, door, credential, user,
    /// reason, detail (each: 0xFF for absent, or 0x00 + 4-byte BE length + UTF-8) | previous hash (32 bytes).
    public static func computeHash(seq: Int64, timeMillis: Int64, event: AuditEvent, prevHash: [UInt8]) -> [UInt8] {
        var h = SHA256()
        h.update(data: Array("warden-audit-v1".utf8))
        func int64(_ v: Int64) {
            withUnsafeBytes(of: v.bigEndian) { h.update(bufferPointer: $0) }
        }
        func field(_ s: String?) {
            guard let s else {
                h.update(data: [0xFF])
                return
            }
            let b = Array(s.utf8)
            h.update(data: [0x00])
            withUnsafeBytes(of: UInt32(b.count).bigEndian) { h.update(bufferPointer: $0) }
            h.update(data: b)
        }
        int64(seq)
        int64(timeMillis)
        field(event.kind.rawValue)
        field(event.door)
        field(event.credentialID)
        field(event.userID)
        field(event.reason)
        field(event.detail)
        h.update(data: prevHash)
        return Array(h.finalize())
    }

    public var hashIsValid: Bool {
        hash == AuditRecord.computeHash(seq: seq, timeMillis: timeMillis, event: event, prevHash: prevHash)
    }
}
