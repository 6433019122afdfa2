import Crypto
import Foundation
import WardenWire

/// The JSON payload of a Warden credential (a JWS, ES256, signed by the org authority). Field names follow JWT
/// conventions (`sub`, `jti`, `nbf`, `exp`, and RFC 7800 `cnf` for the holder key) so standard tools can read it.
public struct CredentialClaims: Codable, Sendable, Equatable {
    public struct Confirmation: Codable, Sendable, Equatable {
        public var jwk: HolderJWK
    }

    /// A P-256 public key as a JWK (RFC 7517): base64url, unpadded, 32-byte coordinates.
    public struct HolderJWK: Codable, Sendable, Equatable {
        public var kty: String
        public var crv: String
        public var x: String
        public var y: String
    }

    public var iss: String
    public var sub: String
    public var jti: String
    public var iat: Int64
    public var nbf: Int64
    public var exp: Int64
    public var cnf: Confirmation
    public var doors: [String]?
    public var groups: [String]?
    public var sched: [ScheduleWindow]?
    public var ext: Bool?

    public init(
        issuer: String,
        userID: String,
        credentialID: String,
        issuedAt: Date,
        notBefore: Date,
        expires: Date,
        holderKey: P256.Signing.PublicKey,
        doors: [String],
        groups: [String] = [],
        schedule: WeeklySchedule = .always,
        extendedTime: Bool = false
    ) {
        let raw = holderKey.rawRepresentation  // x || y
        self.iss = issuer
        self.sub = userID
        self.jti = credentialID
        self.iat = Int64(issuedAt.timeIntervalSince1970)
        self.nbf = Int64(notBefore.timeIntervalSince1970)
        self.exp = Int64(expires.timeIntervalSince1970)
        self.cnf = Confirmation(
            jwk: HolderJWK(
                kty: "EC",
                crv: "P-256",
                x: Base64URL.encode(raw.prefix(32)),
                y: Base64URL.encode(raw.suffix(32))
            )
        )
        self.doors = doors.isEmpty ? nil : doors
        self.groups = groups.isEmpty ? nil : groups
        self.sched = schedule.isAlways ? nil : schedule.windows
        self.ext = extendedTime ? true : nil
    }

    /// Field by field, as `CredentialParser` reads them off the wire (no conversions, no defaults).
    init(
        iss: String,
        sub: String,
        jti: String,
        iat: Int64,
        nbf: Int64,
        exp: Int64,
        cnf: Confirmation,
        doors: [String]?,
        groups: [String]?,
        sched: [ScheduleWindow]?,
        ext: Bool?
    ) {
        self.iss = iss
        self.sub = sub
        self.jti = jti
        self.iat = iat
        self.nbf = nbf
        self.exp = exp
        self.cnf = cnf
        self.doors = doors
        self.groups = groups
        self.sched = sched
        self.ext = ext
    }
}
