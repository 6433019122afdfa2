import Foundation
import Hummingbird
import NIOCore
import PostgresNIO
import WardenWire

/// Users and their roles, phone invitations, API tokens.
extension ManagerAPI {
    func registerPeople(_ t: inout RouteTable) {
        t.on(.get, "/v1/users") { r, c in
            let caller = try c.caller()
            let role = try Self.query(r, "role").map { v throws(Problem) in try APIInput.role(v).rawValue }
            return try APIJSON.response(APIModel.Page(items: try await users(caller, role: role)))
        }
        t.on(.post, "/v1/users") { r, c in
            let caller = try c.caller()
            try caller.requireWrite()
            let input = try await APIJSON.decode(APIModel.UserInput.self, from: r, context: c)
            let id = input.id ?? Secrets.id("u")
            try APIInput.id(id, "id")
            try APIInput.email(input.email)
            try APIInput.text(input.name, "name")
            let role = try APIInput.role(input.role ?? "holder")
            // A site manager adds key holders only; roles are an admin's to give.
            if role != .holder { try caller.requireAdmin() }
            let sites = input.sites ?? []
            try await checkSites(sites, role: role, caller: caller)
            if let p = input.password { try APIInput.password(p) }
            let hash = try input.password.map { try Secrets.hashPassword($0) }
            if try await !rows("SELECT 1 FROM users WHERE org_id = \(caller.org) AND id = \(id)").isEmpty {
                throw Problem(.conflict, "user '\(id)' already exists", field: "id")
            }
            if try await emailTaken(input.email, org: caller.org) {
                throw Problem(.conflict, "a user with this email already exists", field: "email")
            }
            try await Accounts.createUser(
                db,
                org: caller.org,
                id: id,
                email: input.email,
                name: input.name,
                role: role,
                sites: sites,
                passwordHash: hash,
                logger: logger
            )
            return try APIJSON.response(try await user(id, caller), status: .created)
        }
        t.on(.get, "/v1/users/{id}") { _, c in
            try APIJSON.response(try await user(try Self.pathID(c, what: "user"), try c.caller()))
        }
        t.on(.patch, "/v1/users/{id}") { r, c in
            let caller = try c.caller()
            let id = try Self.pathID(c, what: "user")
            let current = try await user(id, caller)
            try caller.requireAdmin()
            let patch = try await APIJSON.decode(APIModel.UserPatch.self, from: r, context: c)
            if let n = patch.name { try APIInput.text(n, "name") }
            let role = try patch.role.map { r throws(Problem) in try APIInput.role(r) } ?? APIInput.role(current.role)
            // Leaving the site manager role drops the sites unless new ones are given (and then they are refused).
            let sites = patch.sites ?? (role == .siteManager ? current.sites : [])
            try await checkSites(sites, role: role, caller: caller)
            if let p = patch.password { try APIInput.password(p) }
            if id == caller.user, role != .admin {
                throw Problem(.conflict, "you cannot demote yourself; ask another admin", field: "role")
            }
            if id == caller.user, patch.disabled == true {
                throw Problem(.conflict, "you cannot disable yourself; ask another admin", field: "disabled")
            }
            let hash = try patch.password.map { try Secrets.hashPassword($0) }
            try await db.withTransaction(logger: logger) { conn in
                try await conn.query(
                    """
                    UPDATE users SET name = \(patch.name ?? current.name), role = \(role.rawValue), sites = \(sites),
                        disabled = \(patch.disabled ?? current.disabled), password_hash = coalesce(\(hash), password_hash)
                    WHERE org_id = \(caller.org) AND id = \(id)
                    """,
                    logger: logger
                )
                // A disabled user or a new password ends every dashboard session at once.
                if patch.disabled == true || hash != nil {
                    try await conn.query(
                        "DELETE FROM sessions WHERE org_id = \(caller.org) AND user_id = \(id)",
                        logger: logger
                    )
                }
            }
            return try APIJSON.response(try await user(id, caller))
        }
        t.on(.post, "/v1/users/{id}/invitations") { r, c in
            let caller = try c.caller()
            let id = try Self.pathID(c, what: "user")
            let invited = try await user(id, caller)
            try caller.requireWrite()
            // An enrolled phone gets every key of its user: a site manager may invite only a key holder whose
            // keys are all on their sites (or they could enroll their own phone as someone with wider access).
            if caller.role == .siteManager {
                let all =
                    try await rows(
                        "SELECT count(*) FROM keys WHERE org_id = \(caller.org) AND user_id = \(id) AND status = 'active'"
                    ).first?.decode(Int64.self) ?? 0
                let theirs = try await keys(caller, KeyFilter(user: id, status: "active")).count
                guard invited.role == Principal.Role.holder.rawValue, theirs == all else {
                    throw Problem(.forbidden, "only an admin can invite someone whose keys reach beyond your sites")
                }
            }
            let input = try await APIJSON.decode(APIModel.InvitationInput.self, from: r, context: c)
            let hours = input.validHours ?? 72
            guard (1...720).contains(hours) else { throw Problem.invalid("valid_hours", "must be from 1 to 720") }
            let invitation = try await invite(user: id, hours: hours, caller: caller)
            return try APIJSON.response(invitation, status: .created)
        }

        t.on(.get, "/v1/api-tokens") { _, c in
            let caller = try c.caller()
            return try APIJSON.response(APIModel.Page(items: try await apiTokens(caller, only: nil)))
        }
        t.on(.post, "/v1/api-tokens") { r, c in
            let caller = try c.caller()
            // Any role may make itself a token (a viewer's reads only); a read-only token makes none.
            if case .token(_, write: false) = caller.via { throw Problem(.forbidden, "this API token is read-only") }
            let input = try await APIJSON.decode(APIModel.APITokenInput.self, from: r, context: c)
            try APIInput.text(input.name, "name", max: 100)
            let scope = input.scope ?? "read"
            guard scope == "read" || scope == "write" else { throw Problem.invalid("scope", "must be read or write") }
            if scope == "write", caller.role == .viewer {
                throw Problem.invalid("scope", "a viewer's token is read only")
            }
            let (id, token) = try await Accounts.createToken(
                db,
                org: caller.org,
                user: caller.user,
                name: input.name,
                write: scope == "write",
                logger: logger
            )
            var model = try await apiTokens(caller, only: id)[0]
            model.token = token
            return try APIJSON.response(model, status: .created)
        }
        t.on(.delete, "/v1/api-tokens/{id}") { _, c in
            let caller = try c.caller()
            let id = try Self.pathID(c, what: "API token")
            guard try await !apiTokens(caller, only: id).isEmpty else { throw Problem.notFound("API token '\(id)'") }
            // Anyone may revoke their own token (even a read-only one: it is how a leaked token is killed).
            if try await !rows("SELECT 1 FROM api_tokens WHERE id = \(id) AND user_id = \(caller.user)").isEmpty {
            } else {
                try caller.requireAdmin()
            }
            try await db.query(
                "UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE id = \(id) AND org_id = \(caller.org)",
                logger: logger
            )
            return Self.noContent()
        }
    }

    /// Whether someone in the org already has this email (compared case-insensitively, as the unique index does).
    func emailTaken(_ email: String, org: String) async throws -> Bool {
        try await !rows("SELECT 1 FROM users WHERE org_id = \(org) AND lower(email) = lower(\(email))").isEmpty
    }

    func checkSites(_ sites: [String], role: Principal.Role, caller: Principal) async throws {
        try APIInput.ids(sites, "sites", max: 100)
        if role == .siteManager, sites.isEmpty {
            throw Problem.invalid("sites", "a site manager needs at least one site")
        }
        if role != .siteManager, !sites.isEmpty { throw Problem.invalid("sites", "only a site manager has sites") }
        let known = Set(try await self.sites(caller).map(\.id))
        if let missing = sites.first(where: { !known.contains($0) }) {
            throw Problem.invalid("sites", "no site '\(missing)'")
        }
    }

    func users(_ caller: Principal, role: String? = nil, only: String? = nil) async throws -> [APIModel.User] {
        try await rows(
            """
            SELECT id, email, name, role, sites, disabled, created_at FROM users WHERE org_id = \(caller.org)
            AND (\(role)::text IS NULL OR role = \(role)) AND (\(only)::text IS NULL OR id = \(only)) ORDER BY id LIMIT 10000
            """
        ).map { row in
            let r = try row.decode((String, String, String, String, [String], Bool, Date).self)
            return APIModel.User(id: r.0, email: r.1, name: r.2, role: r.3, sites: r.4, disabled: r.5, createdAt: r.6)
        }
    }

    /// The names of these users of the org (the dashboard's activity shows names, not ids): one query.
    func userNames(_ org: String, ids: [String]) async throws -> [String: String] {
        guard !ids.isEmpty else { return [:] }
        let named = try await rows(
            "SELECT id, name FROM users WHERE org_id = \(org) AND id = ANY(\(Array(Set(ids))))"
        ).map { try $0.decode((String, String).self) }
        return Dictionary(named, uniquingKeysWith: { a, _ in a })
    }

    func user(_ id: String, _ caller: Principal) async throws -> APIModel.User {
        guard let u = try await users(caller, only: id).first else { throw Problem.notFound("user '\(id)'") }
        return u
    }

    func invite(user: String, hours: Int, caller: Principal) async throws -> APIModel.Invitation {
        let token = Secrets.token(.invitation)
        let expires = Date().addingTimeInterval(Double(hours) * 3600)
        try await db.query(
            """
            INSERT INTO invitations(hash, org_id, user_id, expires_at)
            VALUES (\(ByteBuffer(bytes: Secrets.hash(token))), \(caller.org), \(user), \(expires))
            """,
            logger: logger
        )
        logger.notice(
            "phone invitation created",
            metadata: ["org": "\(caller.org)", "user": "\(user)", "by": "\(caller.user)"]
        )
        return APIModel.Invitation(user: user, token: token, expiresAt: expires)
    }

    /// Admins see every token of the org; others their own.
    func apiTokens(_ caller: Principal, only: String?) async throws -> [APIModel.APIToken] {
        let mine: String? = caller.role == .admin ? nil : caller.user
        return try await rows(
            """
            SELECT id, name, user_id, scope, created_at, last_used_at, revoked_at FROM api_tokens
            WHERE org_id = \(caller.org) AND (\(mine)::text IS NULL OR user_id = \(mine))
            AND (\(only)::text IS NULL OR id = \(only)) ORDER BY created_at, id
            """
        ).map { row in
            let r = try row.decode((String, String, String, String, Date, Date?, Date?).self)
            return APIModel.APIToken(
                id: r.0,
                name: r.1,
                user: r.2,
                scope: r.3,
                createdAt: r.4,
                lastUsedAt: r.5,
                revokedAt: r.6,
                token: nil
            )
        }
    }
}
