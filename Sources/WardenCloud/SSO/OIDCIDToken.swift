import Foundation
import JWTKit

/// The claims Warden reads from an OpenID Connect ID token. Signature, audience and expiry are checked by jwt-kit
/// (`verify(using:)` and the audience check); issuer and nonce by `SingleSignOn`, which knows what to expect.
struct OIDCIDToken: JWTIdentityToken {
    var issuer: IssuerClaim
    var subject: SubjectClaim
    var audience: AudienceClaim
    var expires: ExpirationClaim
    var issuedAt: IssuedAtClaim?
    var nonce: String?
    var email: String?
    var emailVerified: BoolClaim?
    var name: String?

    enum CodingKeys: String, CodingKey {
        case issuer = "iss"
        case subject = "sub"
        case audience = "aud"
        case expires = "exp"
        case issuedAt = "iat"
        case nonce, email, name
        case emailVerified = "email_verified"
    }

    /// A minute of leeway for the two clocks; an ID token is used the moment it arrives.
    func verify(using algorithm: some JWTAlgorithm) async throws {
        try expires.verifyNotExpired(currentDate: Date().addingTimeInterval(-60))
    }
}
