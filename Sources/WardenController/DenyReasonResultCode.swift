import WardenProtocol
import WardenWire

extension ResultCode {
    /// The wire code a phone shows for a deny reason. An exhaustive switch, so a new `DenyReason` does not compile
    /// until it has a code (matching by name once sent unknown reasons out as `internal_error`).
    init(_ reason: DenyReason) {
        switch reason {
        case .malformedCredential: self = .malformedCredential
        case .unsupportedAlgorithm: self = .unsupportedAlgorithm
        case .unknownKeyID: self = .unknownKeyID
        case .badSignature: self = .badSignature
        case .holderProofInvalid: self = .holderProofInvalid
        case .notYetValid: self = .notYetValid
        case .expired: self = .expired
        case .wrongDoor: self = .wrongDoor
        case .outsideSchedule: self = .outsideSchedule
        case .holiday: self = .holiday
        case .revoked: self = .revoked
        case .notListed: self = .notListed
        case .lockdown: self = .lockdown
        case .timeUnknown: self = .timeUnknown
        case .rateLimited: self = .rateLimited
        case .shuttingDown: self = .busy
        }
    }
}
