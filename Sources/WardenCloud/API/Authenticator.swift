import Foundation
import HTTPTypes
import Hummingbird
import Logging
import PostgresNIO

/// Finds who is asking: an API token (`Authorization: Bearer wdn_…`) or a dashboard session cookie. A session
/// must also send its CSRF token on anything but GET, HEAD and OPTIONS. A request with neither continues as
/// anonymous; routes that need a caller ask `APIContext.caller()`. The phone's routes (`/v1/phone/`) are left
/// to their handlers.
struct Authenticator: RouterMiddleware {
    typealias Context = APIContext
    static let sessionCookie = "warden_session"
    static let csrfHeader = HTTPField.Name("X-CSRF-Token")!

    let db: PostgresClient
    let logger: Logger

    func handle(
        _ request: Request,
        context: APIContext,
        next: (Request, APIContext) async throws -> Response
    ) async throws -> Response {
        var context = context
        // The phone's routes authenticate by invitation or phone token, never as a manager.
        // Boards provisioning authenticate by enrollment token or by their own signature.
        if request.uri.path.hasPrefix("/v1/phone/") || request.uri.path.hasPrefix("/v1/board/") {
            return try await next(request, context)
        }
        if let auth = request.headers[.authorization] {
            guard auth.lowercased().hasPrefix("bearer ") else {
                throw Problem(.unauthorized, "the Authorization header must be 'Bearer <token>'")
            }
            let token = String(auth.dropFirst(7)).trimmingCharacters(in: .whitespaces)
            guard let principal = try await tokenPrincipal(token) else {
                throw Problem(.unauthorized, "the API token is unknown, revoked or malformed")
            }
            context.principal = principal
        } else if let cookie = request.cookies[Self.sessionCookie]?.value {
            if let principal = try await sessionPrincipal(cookie) {
                // The API's unsafe methods need the token in a header; the dashboard's forms carry it as a field
                // that their handlers check (`Dashboard.checkCSRF`).
                if request.uri.path.hasPrefix("/v1/"), ![.get, .head, .options].contains(request.method) {
                    guard case .session(let csrf) = principal.via, let sent = request.headers[Self.csrfHeader],
                        Secrets.equal(Array(sent.utf8), Array(csrf.utf8))
                    else { throw Problem(.forbidden, "missing or wrong CSRF token (send it as X-CSRF-Token)") }
                }
                context.principal = principal
            }
        }
        return try await next(request, context)
    }

    func tokenPrincipal(_ token: String) async throws -> Principal? {
        guard let (id, secret) = Secrets.splitAPIToken(token) else { return nil }
        let rows = try await db.query(
            """
            SELECT t.hash, t.scope, t.org_id, t.user_id, u.role, u.sites, (t.last_used_at IS NULL OR t.last_used_at < now() - interval '1 minute')
            FROM api_tokens t JOIN users u ON u.org_id = t.org_id AND u.id = t.user_id
            WHERE t.id = \(id) AND t.revoked_at IS NULL AND NOT u.disabled
            """,
            logger: logger
        )
        for try await (hash, scope, org, user, role, sites, stale) in rows.decode(
            (ByteBuffer, String, String, String, String, [String], Bool).self
        ) {
            guard Secrets.equal(Array(buffer: hash), Secrets.hash(id + "_" + secret)),
                let role = Principal.Role(rawValue: role), role != .holder
            else { return nil }
            // Last-used time to the minute: one write per token per minute, not one per request.
            if stale {
                try await db.query("UPDATE api_tokens SET last_used_at = now() WHERE id = \(id)", logger: logger)
            }
            return Principal(
                org: org,
                user: user,
                role: role,
                sites: sites,
                via: .token(id: id, write: scope == "write")
            )
        }
        return nil
    }

    func sessionPrincipal(_ cookie: String) async throws -> Principal? {
        guard cookie.count >= 40, cookie.count <= 64 else { return nil }
        let rows = try await db.query(
            """
            SELECT s.csrf, s.org_id, s.user_id, u.role, u.sites FROM sessions s
            JOIN users u ON u.org_id = s.org_id AND u.id = s.user_id
            WHERE s.hash = \(ByteBuffer(bytes: Secrets.hash(cookie))) AND s.expires_at > now() AND NOT u.disabled
            """,
            logger: logger
        )
        for try await (csrf, org, user, role, sites) in rows.decode((String, String, String, String, [String]).self) {
            guard let role = Principal.Role(rawValue: role), role != .holder else { return nil }
            return Principal(org: org, user: user, role: role, sites: sites, via: .session(csrf: csrf))
        }
        return nil
    }
}
