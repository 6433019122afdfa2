/// The one-byte outcome of a presentation, sent in RESULT (encrypted) or ERROR (plaintext, before keys exist).
/// Values are the wire contract (docs/protocol.md, "Result codes"): never renumber.
public struct ResultCode: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let granted = ResultCode(rawValue: 0x00)
    // Access decisions (the lock's policy said no).
    public static let malformedCredential = ResultCode(rawValue: 0x01)
    public static let unsupportedAlgorithm = ResultCode(rawValue: 0x02)
    public static let unknownKeyID = ResultCode(rawValue: 0x03)
    public static let badSignature = ResultCode(rawValue: 0x04)
    public static let holderProofInvalid = ResultCode(rawValue: 0x05)
    public static let notYetValid = ResultCode(rawValue: 0x06)
    public static let expired = ResultCode(rawValue: 0x07)
    public static let wrongDoor = ResultCode(rawValue: 0x08)
    public static let outsideSchedule = ResultCode(rawValue: 0x09)
    public static let holiday = ResultCode(rawValue: 0x0A)
    public static let revoked = ResultCode(rawValue: 0x0B)
    public static let notListed = ResultCode(rawValue: 0x0C)
    public static let lockdown = ResultCode(rawValue: 0x0D)
    public static let timeUnknown = ResultCode(rawValue: 0x0E)
    // Protocol failures.
    public static let badFrame = ResultCode(rawValue: 0x20)
    public static let unsupportedVersion = ResultCode(rawValue: 0x21)
    public static let decryptFailed = ResultCode(rawValue: 0x22)
    public static let unexpectedMessage = ResultCode(rawValue: 0x23)
    public static let timeout = ResultCode(rawValue: 0x24)
    public static let busy = ResultCode(rawValue: 0x25)
    public static let rateLimited = ResultCode(rawValue: 0x26)
    public static let badKey = ResultCode(rawValue: 0x27)
    // Phone-side checks of the lock.
    public static let lockCertificateInvalid = ResultCode(rawValue: 0x30)
    public static let lockSignatureInvalid = ResultCode(rawValue: 0x31)
    public static let wrongLock = ResultCode(rawValue: 0x32)
    public static let internalError = ResultCode(rawValue: 0x3F)

    static let names: [UInt8: String] = [
        0x00: "granted", 0x01: "malformed_credential", 0x02: "unsupported_algorithm", 0x03: "unknown_key_id",
        0x04: "bad_signature", 0x05: "holder_proof_invalid", 0x06: "not_yet_valid", 0x07: "expired", 0x08: "wrong_door",
        0x09: "outside_schedule", 0x0A: "holiday", 0x0B: "revoked", 0x0C: "not_listed", 0x0D: "lockdown",
        0x0E: "time_unknown", 0x20: "bad_frame", 0x21: "unsupported_version", 0x22: "decrypt_failed",
        0x23: "unexpected_message", 0x24: "timeout", 0x25: "busy", 0x26: "rate_limited", 0x27: "bad_key",
        0x30: "lock_certificate_invalid", 0x31: "lock_signature_invalid", 0x32: "wrong_lock", 0x3F: "internal_error",
    ]

    /// The snake_case name, identical to the controller's deny-reason strings for 0x01-0x0E.
    public var name: String { Self.names[rawValue] ?? "unknown_0x" + String(rawValue, radix: 16) }
    public var description: String { name }
}
