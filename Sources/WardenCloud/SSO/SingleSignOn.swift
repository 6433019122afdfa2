import AsyncHTTPClient
import Crypto
import Foundation
import JWTKit
import Logging
import NIOCore
import NIOHTTP1
import PostgresNIO
import WardenWire

/// Dashboard sign-in through an org's own OpenID Connect provider: the authorization code flow with PKCE, a nonce,
/// and a state bound to the browser that started it (a cookie), so a login link cannot be replayed, finished in
/// another browser or used to sign a victim into someone else's account. The provider proves who the person is;
/// Warden decides what they may do: only an existing, enabled manager of the org signs in, matched on the
/// provider's subject once linked (first by a verified email), never created on the fly.
struct SingleSignOn: Sendable {
    let db: PostgresClient
    let logger: Logger
    /// Where the provider sends the browser back: `<public URL>/login/sso/callback`, registered at the provider.
    let redirectURI: String
    static let requestLifetime = "10 minutes"

    struct Config: Sendable, Equatable {
        var issuer: String
        var clientID: String
        var clientSecret: String
        var enforced: Bool
    }

    /// The browser goes to `location`; `browserSecret` goes into its cookie and must come back with the callback.
    struct Start: Sendable {
        var location: String
        var browserSecret: String
    }

    struct ProviderMetadata: Decodable, Sendable {
        var issuer: String
        var authorizationEndpoint: String
        var tokenEndpoint: String
        var jwksURI: String

        enum CodingKeys: String, CodingKey {
            case issuer
            case authorizationEndpoint = "authorization_endpoint"
            case tokenEndpoint = "token_endpoint"
            case jwksURI = "jwks_uri"
        }
    }

    func config(org: String) async throws -> Config? {
        for try await r in try await db.query(
            "SELECT issuer, client_id, client_secret, enforced FROM sso_configs WHERE org_id = \(org)",
            logger: logger
        ).decode((String, String, String, Bool).self) {
            return Config(issuer: r.0, clientID: r.1, clientSecret: r.2, enforced: r.3)
        }
        return nil
    }

    /// Begins a sign-in for `org`: a login in flight stored (hashed state, nonce, PKCE verifier), and the
    /// provider's authorization URL.
    func start(org: String) async throws -> Start {
        guard DeviceTopics.isValidID(org), let config = try await config(org: org) else {
            throw SingleSignOnError(
                .notConfigured,
                "No single sign-on is set up for “\(org)”. Sign in with a password."
            )
        }
        let provider = try await metadata(config.issuer)
        let state = Secrets.random()
        let nonce = Secrets.random()
        let verifier = Secrets.random()
        let browser = Secrets.random()
        try await db.query(
            "DELETE FROM sso_requests WHERE created_at < now() - \(Self.requestLifetime)::interval",
            logger: logger
        )
        try await db.query(
            """
            INSERT INTO sso_requests(state_hash, org_id, browser_hash, nonce, verifier)
            VALUES (\(ByteBuffer(bytes: Secrets.hash(state))), \(org), \(ByteBuffer(bytes: Secrets.hash(browser))),
                \(nonce), \(verifier))
            """,
            logger: logger
        )
        guard var url = URLComponents(string: provider.authorizationEndpoint) else {
            throw SingleSignOnError(.provider, "The sign-in provider's authorization endpoint is not a URL.")
        }
        url.queryItems =
            (url.queryItems ?? []) + [
                .init(name: "response_type", value: "code"),
                .init(name: "client_id", value: config.clientID),
                .init(name: "redirect_uri", value: redirectURI),
                .init(name: "scope", value: "openid email profile"),
                .init(name: "state", value: state),
                .init(name: "nonce", value: nonce),
                .init(name: "code_challenge", value: Base64URL.encode(Array(SHA256.hash(data: Data(verifier.utf8))))),
                .init(name: "code_challenge_method", value: "S256"),
            ]
        guard let location = url.string else {
            throw SingleSignOnError(.provider, "The sign-in provider's authorization endpoint is not a URL.")
        }
        return Start(location: location, browserSecret: browser)
    }

    /// Completes a sign-in from the provider's redirect (`code` and `state`, or `error`): the login in flight is
    /// used up whatever happens next; the answer is the org and user to open a session for.
    func finish(
        state: String?,
        code: String?,
        error providerError: String?,
        browserSecret: String?
    ) async throws -> (org: String, user: String) {
        guard let state, !state.isEmpty, state.utf8.count <= 256 else {
            throw SingleSignOnError(.staleLogin, "This sign-in link is incomplete. Start again from the login page.")
        }
        var pending: (org: String, browser: [UInt8], nonce: String, verifier: String)?
        for try await r in try await db.query(
            """
            DELETE FROM sso_requests WHERE state_hash = \(ByteBuffer(bytes: Secrets.hash(state)))
            RETURNING org_id, browser_hash, nonce, verifier, created_at > now() - \(Self.requestLifetime)::interval
            """,
            logger: logger
        ).decode((String, ByteBuffer, String, String, Bool).self) where r.4 {
            pending = (r.0, Array(buffer: r.1), r.2, r.3)
        }
        guard let pending else {
            throw SingleSignOnError(
                .staleLogin,
                "This sign-in has expired or was already used. Start again from the login page."
            )
        }
        guard let browserSecret, Secrets.hash(browserSecret) == pending.browser else {
            throw SingleSignOnError(
                .staleLogin,
                "This sign-in was started in another browser. Start again from the login page here."
            )
        }
        if let providerError {
            throw SingleSignOnError(
                .rejected,
                "The sign-in provider refused: \(providerError.prefix(100)). Ask your administrator."
            )
        }
        guard let code, !code.isEmpty, code.utf8.count <= 2048 else {
            throw SingleSignOnError(.rejected, "The sign-in provider sent no code. Start again from the login page.")
        }
        guard let config = try await config(org: pending.org) else {
            throw SingleSignOnError(.notConfigured, "Single sign-on was turned off for this organization.")
        }
        let provider = try await metadata(config.issuer)
        let idToken = try await exchange(code: code, verifier: pending.verifier, config: config, provider: provider)
        let claims = try await verify(idToken, config: config, provider: provider, nonce: pending.nonce)
        let user = try await account(org: pending.org, claims: claims)
        logger.notice(
            "dashboard login (single sign-on)",
            metadata: ["org": "\(pending.org)", "user": "\(user)", "issuer": "\(config.issuer)"]
        )
        return (pending.org, user)
    }

    // MARK: the provider

    /// The provider's discovery document; its `issuer` must be the configured one, character for character
    /// (OpenID Connect Discovery 1.0, section 4.3).
    func metadata(_ issuer: String) async throws -> ProviderMetadata {
        let base = issuer.hasSuffix("/") ? String(issuer.dropLast()) : issuer
        let (status, body) = try await call(base + "/.well-known/openid-configuration")
        guard status == 200, let m = try? JSONDecoder().decode(ProviderMetadata.self, from: Data(body)) else {
            throw SingleSignOnError(
                .provider,
                "The sign-in provider \(issuer) has no usable discovery document (HTTP \(status)). Ask your administrator to check the issuer URL."
            )
        }
        guard m.issuer == issuer else {
            throw SingleSignOnError(
                .provider,
                "The sign-in provider calls itself \(m.issuer), not \(issuer). Ask your administrator to correct the issuer URL."
            )
        }
        return m
    }

    /// The code for the ID token, with the client's credentials (HTTP Basic, RFC 6749 section 2.3.1) and the PKCE
    /// verifier.
    func exchange(code: String, verifier: String, config: Config, provider: ProviderMetadata) async throws -> String {
        func form(_ s: String) -> String {
            var allowed = CharacterSet.alphanumerics
            allowed.insert(charactersIn: "-._~")
            return s.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
        }
        let body = [
            ("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirectURI),
            ("code_verifier", verifier),
        ].map { "\($0.0)=\(form($0.1))" }.joined(separator: "&")
        let basic = Data("\(form(config.clientID)):\(form(config.clientSecret))".utf8).base64EncodedString()
        let (status, answer) = try await call(
            provider.tokenEndpoint,
            method: .POST,
            headers: [
                ("Content-Type", "application/x-www-form-urlencoded"), ("Authorization", "Basic \(basic)"),
                ("Accept", "application/json"),
            ],
            body: Array(body.utf8)
        )
        let json = (try? JSONSerialization.jsonObject(with: Data(answer))) as? [String: Any]
        guard status == 200, let idToken = json?["id_token"] as? String else {
            let reason = (json?["error"] as? String).map { "\($0)" } ?? "HTTP \(status)"
            throw SingleSignOnError(
                .rejected,
                "The sign-in provider would not exchange the code (\(reason.prefix(100))). Start again; if it persists, ask your administrator to check the client id and secret."
            )
        }
        return idToken
    }

    /// Signature (the provider's published keys), audience (this client only), expiry, issuer and nonce.
    func verify(
        _ idToken: String,
        config: Config,
        provider: ProviderMetadata,
        nonce: String
    ) async throws -> OIDCIDToken {
        let (status, jwks) = try await call(provider.jwksURI)
        let keys = JWTKeyCollection()
        do {
            guard status == 200 else { throw SingleSignOnError(.provider, "HTTP \(status)") }
            try await keys.add(jwksJSON: String(decoding: jwks, as: UTF8.self))
        } catch {
            throw SingleSignOnError(
                .provider,
                "The sign-in provider's signing keys could not be read (\(String(describing: error).prefix(120)))."
            )
        }
        return try await Self.check(idToken, keys: keys, config: config, nonce: nonce, logger: logger)
    }

    /// The token checks on their own (tests feed them tokens signed with keys of their own).
    static func check(
        _ idToken: String,
        keys: JWTKeyCollection,
        config: Config,
        nonce: String,
        logger: Logger
    ) async throws -> OIDCIDToken {
        let claims: OIDCIDToken
        do {
            claims = try await keys.verify(idToken, as: OIDCIDToken.self, expectedAudience: config.clientID)
        } catch {
            logger.warning("single sign-on: ID token refused", metadata: ["reason": "\(error)"])
            throw SingleSignOnError(.rejected, "The sign-in provider's answer did not verify. Start again.")
        }
        guard claims.issuer.value == config.issuer else {
            logger.warning("single sign-on: ID token from another issuer", metadata: ["iss": "\(claims.issuer.value)"])
            throw SingleSignOnError(.rejected, "The sign-in provider's answer did not verify. Start again.")
        }
        guard claims.nonce == nonce else {
            logger.warning("single sign-on: ID token nonce mismatch")
            throw SingleSignOnError(.rejected, "The sign-in provider's answer did not verify. Start again.")
        }
        return claims
    }

    /// The org's user this identity is: the one linked to the provider's subject, or else the one whose email
    /// the provider has verified (linked now, so a later change of email at the provider keeps the link and a
    /// new identity with an old email does not inherit the account).
    func account(org: String, claims: OIDCIDToken) async throws -> String {
        let subject = claims.subject.value
        for try await r in try await db.query(
            "SELECT id, disabled, role FROM users WHERE org_id = \(org) AND sso_subject = \(subject)",
            logger: logger
        ).decode((String, Bool, String).self) {
            return try Self.active(id: r.0, disabled: r.1, role: r.2)
        }
        guard let email = claims.email, claims.emailVerified?.value == true else {
            throw SingleSignOnError(
                .unknownUser,
                "Your sign-in provider did not vouch for your email address, so Warden cannot tell which account is yours. Ask your administrator."
            )
        }
        for try await r in try await db.query(
            """
            UPDATE users SET sso_subject = \(subject)
            WHERE org_id = \(org) AND lower(email) = lower(\(email)) AND sso_subject IS NULL
            RETURNING id, disabled, role
            """,
            logger: logger
        ).decode((String, Bool, String).self) {
            logger.notice("single sign-on: identity linked", metadata: ["org": "\(org)", "user": "\(r.0)"])
            return try Self.active(id: r.0, disabled: r.1, role: r.2)
        }
        throw SingleSignOnError(
            .unknownUser,
            "There is no Warden account for \(email) here (or it is linked to another identity). Ask an administrator to add you."
        )
    }

    static func active(id: String, disabled: Bool, role: String) throws -> String {
        guard !disabled, role != "holder" else {
            throw SingleSignOnError(.unknownUser, "This account cannot sign in to the dashboard. Ask an administrator.")
        }
        return id
    }

    func call(
        _ url: String,
        method: HTTPMethod = .GET,
        headers: [(String, String)] = [("Accept", "application/json")],
        body: [UInt8]? = nil
    ) async throws -> (Int, [UInt8]) {
        var request = HTTPClientRequest(url: url)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        do {
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
            let bytes = try await response.body.collect(upTo: 1 << 20)
            return (Int(response.status.code), Array(buffer: bytes))
        } catch {
            logger.warning("single sign-on: provider unreachable", metadata: ["url": "\(url)", "error": "\(error)"])
            throw SingleSignOnError(
                .provider,
                "The sign-in provider could not be reached. Try again in a minute; if it persists, ask your administrator."
            )
        }
    }
}
