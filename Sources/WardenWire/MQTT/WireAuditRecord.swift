/// One hash-chained journal record as it travels (docs/mqtt.md section 6, docs/audit.md for the hash). Hashes are
/// lowercase hex; absent fields are omitted.
public struct WireAuditRecord: Codable, Sendable, Equatable {
    public var seq: Int64
    public var atMillis: Int64
    public var kind: String
    public var door: String?
    public var credentialID: String?
    public var userID: String?
    public var reason: String?
    public var detail: String?
    public var prevHash: String
    public var hash: String

    enum CodingKeys: String, CodingKey {
        case seq, kind, door, reason, detail, hash
        case atMillis = "at_ms"
        case credentialID = "credential_id"
        case userID = "user_id"
        case prevHash = "prev_hash"
    }

    public init(
        seq: Int64,
        atMillis: Int64,
        kind: String,
        door: String?,
        credentialID: String?,
        userID: String?,
        reason: String?,
        detail: String?,
        prevHash: String,
        hash: String
    ) {
        self.seq = seq
        self.atMillis = atMillis
        self.kind = kind
        self.door = door
        self.credentialID = credentialID
        self.userID = userID
        self.reason = reason
        self.detail = detail
        self.prevHash = prevHash
        self.hash = hash
    }
}
