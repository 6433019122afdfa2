import Crypto
import Foundation
import WardenAuthority
import WardenCore

/// Makes the vector's credential with the real issuer (WardenCore), so the vector carries a credential the lock's
/// policy accepts.
enum WardenCoreBridge {
    static func credential(
        authority: P256.Signing.PrivateKey,
        holder: P256.Signing.PublicKey,
        now: UInt64
    ) async throws -> String {
        let t = Date(timeIntervalSince1970: TimeInterval(now))
        return try await CredentialIssuer(keyID: "org-2026", privateKey: authority).sign(
            CredentialClaims(
                issuer: "org:acme",
                userID: "alice",
                credentialID: "cred-0001",
                issuedAt: t,
                notBefore: t.addingTimeInterval(-86_400),
                expires: t.addingTimeInterval(86_400 * 365),
                holderKey: holder,
                doors: ["front-door"]
            )
        )
    }
}
