/// Why a presentation was refused. The raw value is the stable code shown on phones, written to the audit journal
/// and sent to the cloud, so existing codes never change meaning.
public enum DenyReason: String, Sendable, Codable, CaseIterable {
    case malformedCredential = "malformed_credential"
    case unsupportedAlgorithm = "unsupported_algorithm"
    case unknownKeyID = "unknown_key_id"
    case badSignature = "bad_signature"
    case holderProofInvalid = "holder_proof_invalid"
    case notYetValid = "not_yet_valid"
    case expired = "expired"
    case wrongDoor = "wrong_door"
    case outsideSchedule = "outside_schedule"
    case holiday = "holiday"
    case revoked = "revoked"
    case notListed = "not_listed"
    case lockdown = "lockdown"
    case timeUnknown = "time_unknown"
    case rateLimited = "rate_limited"
    /// wardend is stopping: no grant after shutdown has begun.
    case shuttingDown = "shutting_down"
}
