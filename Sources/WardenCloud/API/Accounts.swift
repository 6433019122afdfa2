import Foundation
import Logging
import NIOCore
import PostgresNIO

/// Creating people and API tokens: one path for the API and for `warden-cloud user-add` / `token-add` (the first
/// admin of an org exists before anyone can call the API).
public enum Accounts {
    /// Inserts a user; the caller has checked the fields. `passwordHash` comes from `Secrets.hashPassword`.
    public static func createUser(
        _ db: PostgresClient,
        org: String,
        id: String,
        email: String,
        name: String,
        role: Principal.Role,
        sites: [String] = [],
        passwordHash: String?,
        logger: Logger
    ) async throws {
        try await db.query(
            """
            INSERT INTO users(org_id, id, email, name, role, sites, password_hash)
            VALUES (\(org), \(id), \(email), \(name), \(role.rawValue), \(sites), \(passwordHash))
            """,
            logger: logger
        )
    }

    /// A new token for `user`: returns its id and the secret token, which is shown once and never stored.
    public static func createToken(
        _ db: PostgresClient,
        org: String,
        user: String,
        name: String,
        write: Bool,
        logger: Logger
    ) async throws -> (id: String, token: String) {
        let id = Secrets.id("t")
        let token = Secrets.apiToken(id: id)
        guard let (_, secret) = Secrets.splitAPIToken(token) else { preconditionFailure("a token we made must split") }
        try await db.query(
            """
            INSERT INTO api_tokens(id, org_id, user_id, name, hash, scope)
            VALUES (\(id), \(org), \(user), \(name), \(ByteBuffer(bytes: Secrets.hash(id + "_" + secret))),
                \(write ? "write" : "read"))
            """,
            logger: logger
        )
        logger.notice("API token created", metadata: ["org": "\(org)", "user": "\(user)", "token_id": "\(id)"])
        return (id, token)
    }
}
