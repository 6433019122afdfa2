import Crypto
import Foundation
import WardenWire

/// A credential whose authority signature has been checked. Only `CredentialVerifier` makes these, so holding one
/// means "the org authority issued this", nothing more: time, door and revocation are `AccessPolicy`'s job.
public struct Credential: Sendable, Equatable {
    public let keyID: String
    public let issuer: String
    public let userID: String
    public let credentialID: String
    public let notBefore: Date
    public let expires: Date
    public let holderKey: P256.Signing.PublicKey
    public let doors: Set<String>
    public let groups: Set<String>
    public let schedule: WeeklySchedule
    public let extendedTime: Bool

    init(keyID: String, claims c: CredentialClaims) throws(JWSError) {
        // Canonical base64url only (no padding, zero unused bits): one spelling per key, as the issuer writes it.
        guard c.cnf.jwk.kty == "EC", c.cnf.jwk.crv == "P-256",
            let x = Base64URL.decodeCanonical(Array(c.cnf.jwk.x.utf8)[...]),
            let y = Base64URL.decodeCanonical(Array(c.cnf.jwk.y.utf8)[...]), x.count == 32, y.count == 32,
            let key = try? P256.Signing.PublicKey(rawRepresentation: x + y)
        else { throw JWSError(.malformed, "cnf.jwk is not a P-256 public key") }
        guard !c.sub.isEmpty, !c.jti.isEmpty, c.jti.utf8.count <= 128 else {
            throw JWSError(.malformed, "sub and jti must be non-empty (jti at most 128 bytes)")
        }
        guard c.nbf <= c.exp else { throw JWSError(.malformed, "nbf is after exp") }
        self.keyID = keyID
        self.issuer = c.iss
        self.userID = c.sub
        self.credentialID = c.jti
        self.notBefore = Date(timeIntervalSince1970: TimeInterval(c.nbf))
        self.expires = Date(timeIntervalSince1970: TimeInterval(c.exp))
        self.holderKey = key
        self.doors = Set(c.doors ?? [])
        self.groups = Set(c.groups ?? [])
        self.schedule = WeeklySchedule(windows: c.sched ?? [])
        self.extendedTime = c.ext ?? false
    }

    public static func == (a: Credential, b: Credential) -> Bool {
        a.keyID == b.keyID && a.credentialID == b.credentialID && a.userID == b.userID && a.issuer == b.issuer
            && a.notBefore == b.notBefore && a.expires == b.expires
            && a.holderKey.rawRepresentation == b.holderKey.rawRepresentation && a.doors == b.doors
            && a.groups == b.groups && a.schedule == b.schedule && a.extendedTime == b.extendedTime
    }
}
