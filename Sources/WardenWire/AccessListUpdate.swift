import Foundation

/// A signed change to a board's access list: a delta from version `base` to `ver`, or a full snapshot. Signed by the
/// org authority like credentials, so whoever relays it (broker, cloud consumer, an installer's laptop) cannot forge
/// or alter one. A delta whose `base` is not the board's current version is refused; the board asks for a snapshot.
public struct AccessListUpdate: Codable, Sendable, Equatable {
    public struct Entry: Codable, Sendable, Equatable {
        public var id: String
        public var user: String
        public init(id: String, user: String) {
            self.id = id
            self.user = user
        }
    }

    public var iss: String
    /// Sites or doors this update is for; the board refuses updates that name neither its door nor its groups.
    public var doors: [String]
    public var ver: Int64
    public var base: Int64?
    public var snapshot: Bool
    public var grant: [Entry]
    public var revoke: [Entry]
    public var iat: Int64

    /// Updates larger than this are refused before parsing (100,000 entries are about 6 MB).
    public static let maxTokenBytes = 16 * 1024 * 1024

    public init(
        issuer: String,
        doors: [String],
        version: Int64,
        base: Int64?,
        snapshot: Bool,
        grant: [Entry],
        revoke: [Entry],
        issuedAt: Date
    ) {
        self.iss = issuer
        self.doors = doors
        self.ver = version
        self.base = base
        self.snapshot = snapshot
        self.grant = grant
        self.revoke = revoke
        self.iat = Int64(issuedAt.timeIntervalSince1970)
    }

    /// Verifies the authority signature (`CompactJWS`, the same rules as credentials) and decodes the update.
    public static func verified(_ token: String, authority: AuthorityKeySet) throws(JWSError) -> AccessListUpdate {
        let update = try CompactJWS.verifiedJSON(
            token,
            as: AccessListUpdate.self,
            authority: authority,
            what: "access-list update",
            maxBytes: maxTokenBytes
        )
        guard update.snapshot || update.base != nil else {
            throw JWSError(.malformed, "a delta must name its base version")
        }
        return update
    }
}
