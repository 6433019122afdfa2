import Crypto
import Foundation

/// The phone's calls to the cloud (docs/openapi.yaml, `/v1/phone/…`): enroll a holder key with an invitation, then
/// fetch the credentials the cloud signs for it. The HTTP itself is the app's (`URLSession` on iOS, anything
/// elsewhere), passed in as `send`, so this stays free of networking and runs the same on every platform.
public struct KeyService: Sendable {
    public struct Request: Sendable, Equatable {
        public var method: String
        public var url: String
        public var headers: [String: String]
        public var body: Data?
    }

    public struct Reply: Sendable {
        public var status: Int
        public var body: Data
        public init(status: Int, body: Data) {
            self.status = status
            self.body = body
        }
    }

    public struct Credential: Codable, Sendable, Equatable {
        public var key: String
        public var credential: String
        public var doors: [String]
        public var validUntil: String
    }

    public struct Bundle: Codable, Sendable, Equatable {
        public var phone: String
        public var user: String
        public var credentials: [Credential]
        /// Authority key id to P-256 public key (PEM): what the phone checks a lock's certificate against.
        public var authority: [String: String]

        public func authorityKeys() throws(KeyServiceError) -> [String: P256.Signing.PublicKey] {
            var out: [String: P256.Signing.PublicKey] = [:]
            for (kid, pem) in authority {
                guard let key = try? P256.Signing.PublicKey(pemRepresentation: pem) else {
                    throw KeyServiceError(status: nil, "the cloud sent an authority key '\(kid)' that is not P-256 PEM")
                }
                out[kid] = key
            }
            return out
        }
    }

    public struct Enrollment: Codable, Sendable, Equatable {
        public var phone: String
        /// The phone's secret for later fetches: keep it like a password (the keychain on iOS).
        public var phoneToken: String
        public var credentials: Bundle
    }

    public typealias Send = @Sendable (Request) async throws -> Reply

    public let baseURL: String
    let send: Send

    public init(baseURL: String, send: @escaping Send) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.send = send
    }

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        return e
    }()

    static let decoder: JSONDecoder = {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        return d
    }()

    /// Enrolls `holderKey` (the public half; the private key never leaves the phone) with a one-time invitation.
    public func enroll(
        invitation: String,
        holderKey: P256.Signing.PublicKey
    ) async throws(KeyServiceError) -> Enrollment {
        let raw = holderKey.rawRepresentation
        struct JWK: Encodable { var kty = "EC", crv = "P-256", x: String, y: String }
        struct Body: Encodable { var invitation: String, publicKey: JWK }
        let body = Body(
            invitation: invitation,
            publicKey: JWK(x: Self.base64URL(raw.prefix(32)), y: Self.base64URL(raw.suffix(32)))
        )
        let data: Data
        do { data = try Self.encoder.encode(body) } catch { throw KeyServiceError(status: nil, "\(error)") }
        return try await call(
            Request(
                method: "POST",
                url: baseURL + "/v1/phone/enroll",
                headers: ["Content-Type": "application/json"],
                body: data
            ),
            expect: 201,
            as: Enrollment.self
        )
    }

    /// The phone's current credentials: re-signed on each call, so a changed or revoked key shows at once.
    public func fetch(phoneToken: String) async throws(KeyServiceError) -> Bundle {
        try await call(
            Request(
                method: "GET",
                url: baseURL + "/v1/phone/credentials",
                headers: ["Authorization": "Bearer \(phoneToken)"],
                body: nil
            ),
            expect: 200,
            as: Bundle.self
        )
    }

    func call<T: Decodable>(_ request: Request, expect: Int, as type: T.Type) async throws(KeyServiceError) -> T {
        let reply: Reply
        do { reply = try await send(request) } catch {
            throw KeyServiceError(status: nil, "cannot reach the cloud at \(baseURL): \(error)")
        }
        guard reply.status == expect else {
            let detail = (try? Self.decoder.decode(ProblemDetail.self, from: reply.body))?.detail
            throw KeyServiceError(
                status: reply.status,
                "the cloud answered \(reply.status): \(detail ?? String(decoding: reply.body.prefix(200), as: UTF8.self))"
            )
        }
        do { return try Self.decoder.decode(T.self, from: reply.body) } catch {
            throw KeyServiceError(
                status: reply.status,
                "the cloud's answer is not what this phone understands: \(error)"
            )
        }
    }

    /// The `detail` of the cloud's RFC 9457 problem answer: what to show the phone's user.
    struct ProblemDetail: Decodable { var detail: String? }

    static func base64URL(_ bytes: some Sequence<UInt8>) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }
}
