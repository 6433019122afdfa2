import Foundation

/// A remote command (unlock with a duration, lockdown on/off, sync now) as the authority signs it: bound to one
/// device, single-use (`jti`) and short-lived (`exp`), so a broker or cloud consumer can delay or drop one but never
/// forge, redirect or replay it. The board checks binding, expiry (on trusted time) and the nonce itself.
public struct SignedCommand: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case unlock
        case lockdown
        case sync
    }

    public var iss: String
    /// The device (lock id) this command is for; every other board refuses it.
    public var dev: String
    public var cmd: Kind
    /// Unlock length in milliseconds (`unlock` only).
    public var ms: Int64?
    /// Lockdown on or off (`lockdown` only).
    public var on: Bool?
    /// Single-use nonce.
    public var jti: String
    public var iat: Int64
    public var exp: Int64

    public init(
        issuer: String,
        device: String,
        command: Kind,
        millis: Int64? = nil,
        on: Bool? = nil,
        nonce: String,
        issuedAt: Date,
        expires: Date
    ) {
        self.iss = issuer
        self.dev = device
        self.cmd = command
        self.ms = millis
        self.on = on
        self.jti = nonce
        self.iat = Int64(issuedAt.timeIntervalSince1970)
        self.exp = Int64(expires.timeIntervalSince1970)
    }

    /// Verifies the authority signature and decodes; binding, expiry and replay are the receiver's checks.
    public static func verified(_ token: String, authority: AuthorityKeySet) throws(JWSError) -> SignedCommand {
        let command = try CompactJWS.verifiedJSON(
            token,
            as: SignedCommand.self,
            authority: authority,
            what: "signed command",
            maxBytes: 4096
        )
        return command
    }
}
