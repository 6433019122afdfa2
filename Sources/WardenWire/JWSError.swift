/// Why a token is not a credential. `code` maps onto the deny reason the phone is shown.
public struct JWSError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: Sendable, Equatable {
        case malformed, unsupportedAlgorithm, unknownKeyID, badSignature
    }
    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var denyReason: DenyReason {
        switch code {
        case .malformed: return .malformedCredential
        case .unsupportedAlgorithm: return .unsupportedAlgorithm
        case .unknownKeyID: return .unknownKeyID
        case .badSignature: return .badSignature
        }
    }

    public var description: String { message }
}
