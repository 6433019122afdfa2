import Crypto
import Foundation
import JWTKit

/// A signed change to a board's access list: a delta from version `base` to `ver`, or a full snapshot. Signed by the
/// org authority like credentials, so whoever relays it (broker, cloud consumer, an installer's laptop) cannot forge
/// or alter one. A delta whose `base` is not the board's current version is refused; the board asks for a snapshot.
public struct AccessListUpdate: JWTPayload, Equatable {
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

    public init(
        issuer: String, doors: [String], version: Int64, base: Int64?, snapshot: Bool, grant: [Entry], revoke: [Entry],
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

    public func verify(using algorithm: some JWTAlgorithm) async throws {}

    /// Verifies the authority signature (same rules as credentials) and decodes the update.
    public static func verified(_ token: String, authority: AuthorityKeySet) throws(CredentialError) -> AccessListUpdate {
        let bytes = Array(token.utf8)
        guard bytes.count <= 16 * 1024 * 1024 else { throw CredentialError(.malformed, "access-list update is too large") }
        let parts = bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw CredentialError(.malformed, "an access-list update is a compact JWS") }
        let parsed: (header: JWTHeader, payload: AccessListUpdate, signature: Data)
        do {
            parsed = try DefaultJWTParser().parse(bytes, as: AccessListUpdate.self)
        } catch {
            throw CredentialError(.malformed, "access-list update does not parse: \(error)")
        }
        guard parsed.header.alg == "ES256" else { throw CredentialError(.unsupportedAlgorithm, "only ES256 is accepted") }
        guard let kid = parsed.header.kid, let key = authority[kid] else {
            throw CredentialError(.unknownKeyID, "access-list update signed by a key this board does not trust")
        }
        let signingInput = Data(bytes[..<(parts[0].count + 1 + parts[1].count)])
        guard let sig = try? P256.Signing.ECDSASignature(rawRepresentation: parsed.signature),
            key.isValidSignature(sig, for: SHA256.hash(data: signingInput))
        else { throw CredentialError(.badSignature, "access-list update signature does not verify") }
        guard parsed.payload.snapshot || parsed.payload.base != nil else {
            throw CredentialError(.malformed, "a delta must name its base version")
        }
        return parsed.payload
    }
}
