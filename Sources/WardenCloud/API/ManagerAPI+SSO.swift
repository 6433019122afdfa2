import Foundation
import Hummingbird
import NIOCore
import PostgresNIO
import WardenWire

/// The org's single sign-on provider (OpenID Connect): admins only. The client secret is write-only: it never
/// comes back in an answer.
extension ManagerAPI {
    func registerSSO(_ t: inout RouteTable) {
        t.on(.get, "/v1/sso") { _, c in
            let caller = try c.caller()
            guard caller.role == .admin else { throw Problem(.forbidden, "only an org admin sees single sign-on") }
            guard let s = try await ssoConfig(caller.org) else { throw Problem.notFound("single sign-on") }
            return try APIJSON.response(s)
        }
        t.on(.put, "/v1/sso") { r, c in
            let caller = try c.caller()
            try caller.requireAdmin()
            let input = try await APIJSON.decode(APIModel.SSOConfigInput.self, from: r, context: c)
            return try APIJSON.response(try await putSSO(input, caller: caller))
        }
        t.on(.delete, "/v1/sso") { _, c in
            let caller = try c.caller()
            try caller.requireAdmin()
            var found = false
            for try await _ in try await db.query(
                "DELETE FROM sso_configs WHERE org_id = \(caller.org) RETURNING org_id",
                logger: logger
            ) { found = true }
            guard found else { throw Problem.notFound("single sign-on") }
            logger.notice("single sign-on removed", metadata: ["org": "\(caller.org)", "by": "\(caller.user)"])
            return Self.noContent()
        }
    }

    /// Where the provider must send browsers back (registered at the provider as the client's redirect URI).
    var ssoRedirectURI: String { publicURL + "/login/sso/callback" }

    func ssoConfig(_ org: String) async throws -> APIModel.SSOConfig? {
        try await rows(
            "SELECT issuer, client_id, enforced, updated_at FROM sso_configs WHERE org_id = \(org)"
        ).first.map { row in
            let r = try row.decode((String, String, Bool, Date).self)
            return APIModel.SSOConfig(
                issuer: r.0,
                clientId: r.1,
                enforced: r.2,
                redirectUri: ssoRedirectURI,
                updatedAt: r.3
            )
        }
    }

    func putSSO(_ input: APIModel.SSOConfigInput, caller: Principal) async throws -> APIModel.SSOConfig {
        try Self.checkIssuer(input.issuer)
        try APIInput.text(input.clientId, "client_id", max: 255)
        if let secret = input.clientSecret { try APIInput.text(secret, "client_secret", max: 1024) }
        let existing = try await ssoConfig(caller.org)
        guard input.clientSecret != nil || existing != nil else {
            throw Problem.invalid("client_secret", "is required when single sign-on is first set up")
        }
        try await db.query(
            """
            INSERT INTO sso_configs(org_id, issuer, client_id, client_secret, enforced)
            VALUES (\(caller.org), \(input.issuer), \(input.clientId), \(input.clientSecret ?? ""),
                \(input.enforced ?? false))
            ON CONFLICT (org_id) DO UPDATE SET issuer = excluded.issuer, client_id = excluded.client_id,
                client_secret = COALESCE(\(input.clientSecret), sso_configs.client_secret),
                enforced = excluded.enforced, updated_at = now()
            """,
            logger: logger
        )
        logger.notice(
            "single sign-on set",
            metadata: [
                "org": "\(caller.org)", "issuer": "\(input.issuer)", "enforced": "\(input.enforced ?? false)",
                "by": "\(caller.user)",
            ]
        )
        guard let saved = try await ssoConfig(caller.org) else { throw Problem.notFound("single sign-on") }
        return saved
    }

    /// An issuer is an https URL without query or fragment (OpenID Connect Discovery 1.0); plain http only on
    /// loopback, for a provider on the same machine.
    static func checkIssuer(_ issuer: String) throws(Problem) {
        guard issuer.count <= 2000, let u = URLComponents(string: issuer), let scheme = u.scheme?.lowercased(),
            let host = u.host, !host.isEmpty, u.user == nil, u.password == nil, u.query == nil, u.fragment == nil,
            scheme == "https" || (scheme == "http" && ["127.0.0.1", "localhost", "::1", "[::1]"].contains(host))
        else {
            throw Problem.invalid(
                "issuer",
                "must be an https URL with a host and no query or fragment (http only on loopback)"
            )
        }
    }
}
