import WardenWire

/// An audit entry before the journal gives it a sequence number, time and chain hash.
public struct AuditEvent: Sendable, Equatable, Codable {
    public var kind: AuditKind
    public var door: String?
    public var credentialID: String?
    public var userID: String?
    public var reason: String?
    public var detail: String?

    public init(
        _ kind: AuditKind,
        door: String? = nil,
        credentialID: String? = nil,
        userID: String? = nil,
        reason: String? = nil,
        detail: String? = nil
    ) {
        self.kind = kind
        self.door = door
        self.credentialID = credentialID
        self.userID = userID
        self.reason = reason
        self.detail = detail
    }
}
