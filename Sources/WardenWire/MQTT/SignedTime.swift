import Foundation

/// Time as the authority vouches for it, bound to one board and one request's nonce, so a recorded answer cannot be
/// replayed later or to another board (docs/mqtt.md section 9, docs/time.md).
public struct SignedTime: Codable, Sendable, Equatable {
    public var iss: String
    public var dev: String
    public var nonce: String
    /// The authority's clock, milliseconds since 1970.
    public var timeMillis: Int64
    public var iat: Int64

    enum CodingKeys: String, CodingKey {
        case iss, dev, nonce, iat
        case timeMillis = "t_ms"
    }

    public init(issuer: String, device: String, nonce: String, time: Date) {
        self.iss = issuer
        self.dev = device
        self.nonce = nonce
        self.timeMillis = Int64((time.timeIntervalSince1970 * 1000).rounded())
        self.iat = Int64(time.timeIntervalSince1970)
    }

    public var time: Date { Date(timeIntervalSince1970: Double(timeMillis) / 1000) }

    /// Verifies the authority signature and decodes; binding to the device and the nonce is the receiver's check.
    public static func verified(_ token: String, authority: AuthorityKeySet) throws(JWSError) -> SignedTime {
        try CompactJWS.verifiedJSON(
            token,
            as: SignedTime.self,
            authority: authority,
            what: "signed time",
            maxBytes: 4096
        )
    }
}
