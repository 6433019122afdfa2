import Foundation

/// A remote command (unlock with a duration, lockdown on/off, sync now, install a software version) as the
/// authority signs it: bound to one
/// device, single-use (`jti`) and short-lived (`exp`), so a broker or cloud consumer can delay or drop one but never
/// forge, redirect or replay it. The board checks binding, expiry (on trusted time) and the nonce itself.
public struct SignedCommand: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case unlock
        case lockdown
        case sync
        /// Install warden-board `ver` (docs/updates.md): wardend hands the verified order to warden-updater.
        case update
        /// Collect a support bundle and upload it to `url` with the one-time `tok` (docs/updates.md): wardend hands
        /// the verified order to `wardenctl support-bundle --order`.
        case supportBundle = "support_bundle"
    }

    public var iss: String
    /// The device (lock id) this command is for; every other board refuses it.
    public var dev: String
    public var cmd: Kind
    /// Unlock length in milliseconds (`unlock` only).
    public var ms: Int64?
    /// Lockdown on or off (`lockdown` only).
    public var on: Bool?
    /// The warden-board version to install (`update` only), a Debian version.
    public var ver: String?
    /// Where to upload the bundle (`support_bundle` only): signed, so nobody on the way redirects it.
    public var url: String?
    /// The upload's one-time bearer token (`support_bundle` only): it uploads one archive for this request, nothing
    /// else.
    public var tok: String?
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
        version: String? = nil,
        uploadURL: String? = nil,
        uploadToken: String? = nil,
        nonce: String,
        issuedAt: Date,
        expires: Date
    ) {
        self.iss = issuer
        self.dev = device
        self.cmd = command
        self.ms = millis
        self.on = on
        self.ver = version
        self.url = uploadURL
        self.tok = uploadToken
        self.jti = nonce
        self.iat = Int64(issuedAt.timeIntervalSince1970)
        self.exp = Int64(expires.timeIntervalSince1970)
    }

    /// Whether `v` is a Debian version apt can be asked for (`warden-board=V`): nothing a shell or apt would read as
    /// an option or a pattern.
    public static func isDebianVersion(_ v: String) -> Bool {
        guard (1...64).contains(v.utf8.count), let first = v.utf8.first,
            (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first)
        else { return false }
        return v.utf8.allSatisfy { c in
            (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(c)
                || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(c) || ".+~-:".utf8.contains(c)
        }
    }

    /// Commands live at most this long (`exp - iat`): a captured command is useless minutes later. An update order
    /// may wait for an idle door and a maintenance window, so it lives up to a day; it installs only a version the
    /// release key signed, whoever replays it. A support-bundle request waits an hour for a board that is offline.
    public static func maxLifetime(_ kind: Kind) -> Int64 {
        switch kind {
        case .update: 86_400
        case .supportBundle: 3_600
        case .unlock, .lockdown, .sync: 300
        }
    }

    /// Whether `u` is where a bundle may go: an http(s) URL with a host and no user, query or fragment.
    public static func isUploadURL(_ u: String) -> Bool {
        guard u.utf8.count <= 512, let c = URLComponents(string: u), let scheme = c.scheme?.lowercased(),
            scheme == "https" || scheme == "http", let host = c.host, !host.isEmpty, c.user == nil, c.query == nil,
            c.fragment == nil
        else { return false }
        return true
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
