import WardenWire

extension AuditRecord {
    /// The record as it travels in an audit batch (docs/mqtt.md section 6).
    public var wire: WireAuditRecord {
        WireAuditRecord(
            seq: seq,
            atMillis: timeMillis,
            kind: event.kind.rawValue,
            door: event.door,
            credentialID: event.credentialID,
            userID: event.userID,
            reason: event.reason,
            detail: event.detail,
            prevHash: Hex.encode(prevHash),
            hash: Hex.encode(hash)
        )
    }

    /// Reads a record off the wire; its hash is kept as sent, so the receiver checks `hashIsValid` and the link.
    public init(wire w: WireAuditRecord) throws(WireError) {
        guard let kind = AuditKind(rawValue: w.kind) else {
            throw WireError("audit record \(w.seq): unknown kind '\(w.kind)'")
        }
        guard let prev = Hex.decode(w.prevHash), prev.count == 32, let hash = Hex.decode(w.hash), hash.count == 32
        else { throw WireError("audit record \(w.seq): prev_hash and hash must be 64 hex digits") }
        self.init(
            seq: w.seq,
            timeMillis: w.atMillis,
            event: AuditEvent(
                kind,
                door: w.door,
                credentialID: w.credentialID,
                userID: w.userID,
                reason: w.reason,
                detail: w.detail
            ),
            prevHash: prev,
            hash: hash
        )
    }
}
