import Crypto
import Foundation
import Hummingbird
import PostgresNIO
import WardenWire

/// Support bundles from the cloud (docs/updates.md, decision 8): an org admin asks a board for one; the board gets
/// an authority-signed `support_bundle` command naming the upload URL and a one-time token, collects the bundle
/// (`wardenctl support-bundle --order`, secrets removed on the board) and uploads it; the admin downloads it. The
/// token only uploads one archive for its request before it expires, and is stored hashed.
extension ManagerAPI {
    /// Largest archive accepted: a bundle is text (logs, journal head, config), a few MB at most.
    static let maxBundleBytes = 32 << 20
    /// How long the board has to upload: the command's life (an hour) and the time to collect.
    static let bundleUploadWindow: TimeInterval = 2 * 3600

    func registerSupportBundles(_ t: inout RouteTable) {
        t.on(.post, "/v1/devices/{id}/support-bundles") { _, c in
            let caller = try c.caller()
            let device = try await deviceModel(try Self.pathID(c, what: "device"), caller)
            try caller.requireAdmin()
            return try APIJSON.response(try await requestBundle(device: device.id, caller: caller), status: .accepted)
        }
        t.on(.get, "/v1/devices/{id}/support-bundles") { _, c in
            let caller = try c.caller()
            let device = try await deviceModel(try Self.pathID(c, what: "device"), caller)
            try caller.requireAdmin()
            return try APIJSON.response(APIModel.Page(items: try await bundles(caller.org, device: device.id, id: nil)))
        }
        t.on(.get, "/v1/support-bundles/{id}") { _, c in
            let caller = try c.caller()
            let id = try Self.pathID(c, what: "support bundle")
            guard let bundle = try await bundles(caller.org, device: nil, id: id).first,
                (try? await deviceModel(bundle.device, caller)) != nil
            else { throw Problem.notFound("support bundle '\(id)'") }
            try caller.requireAdmin()
            guard bundle.state == "uploaded",
                let row = try await rows(
                    "SELECT archive FROM support_bundles WHERE org_id = \(caller.org) AND id = \(id)"
                ).first, let archive = try row.decode(ByteBuffer?.self)
            else {
                throw Problem(.conflict, "support bundle '\(id)' is \(bundle.state), not uploaded")
            }
            return Response(
                status: .ok,
                headers: [
                    .contentType: "application/gzip",
                    .contentDisposition: "attachment; filename=\"warden-support-\(bundle.device)-\(id).tar.gz\"",
                ],
                body: ResponseBody(byteBuffer: archive)
            )
        }
        // The board's upload: no manager is signed in; the one-time token from the signed command is the credential.
        t.on(.post, "/v1/board/support-bundle") { r, c in
            guard let auth = r.headers[.authorization], auth.lowercased().hasPrefix("bearer ") else {
                throw Problem(
                    .unauthorized,
                    "send the upload token from the command as 'Authorization: Bearer <token>'"
                )
            }
            let token = String(auth.dropFirst(7)).trimmingCharacters(in: .whitespaces)
            let body: ByteBuffer
            do { body = try await r.body.collect(upTo: Self.maxBundleBytes) } catch {
                throw Problem(.contentTooLarge, "a bundle is at most \(Self.maxBundleBytes) bytes", field: "body")
            }
            return try APIJSON.response(try await storeBundle(token: token, archive: body), status: .created)
        }
    }

    func requestBundle(device: String, caller: Principal) async throws -> APIModel.SupportBundle {
        let id = Secrets.id("sb-")
        let token = Secrets.token(.supportUpload)
        try await db.query(
            """
            INSERT INTO support_bundles(org_id, id, device_id, token_hash, requested_by, expires_at)
            VALUES (\(caller.org), \(id), \(device), \(ByteBuffer(bytes: Secrets.hash(token))), \(caller.user),
                \(Date().addingTimeInterval(Self.bundleUploadWindow)))
            """,
            logger: logger
        )
        let jti = try await operations.command(
            org: caller.org,
            device: device,
            .supportBundle,
            uploadURL: publicURL + "/v1/board/support-bundle",
            uploadToken: token
        )
        try await db.query(
            "UPDATE support_bundles SET jti = \(jti) WHERE org_id = \(caller.org) AND id = \(id)",
            logger: logger
        )
        logger.notice(
            "support bundle requested",
            metadata: ["org": "\(caller.org)", "device": "\(device)", "bundle": "\(id)", "by": "\(caller.user)"]
        )
        return try await bundles(caller.org, device: nil, id: id)[0]
    }

    /// Takes the archive for the request whose token this is: once, before it expires, a gzip stream.
    func storeBundle(token: String, archive: ByteBuffer) async throws -> APIModel.SupportBundle {
        let refused = Problem(
            .unauthorized,
            "the upload token is unknown, used or expired; ask a manager to request again"
        )
        let hash = ByteBuffer(bytes: Secrets.hash(token))
        // Who first: nothing about the body is answered to someone without a live token.
        guard (16...256).contains(token.utf8.count),
            try await !rows(
                "SELECT 1 FROM support_bundles WHERE token_hash = \(hash) AND uploaded_at IS NULL AND expires_at > now()"
            ).isEmpty
        else { throw refused }
        let bytes = Array(buffer: archive)
        guard bytes.count >= 18, bytes[0] == 0x1f, bytes[1] == 0x8b else {
            throw Problem.invalid("body", "a support bundle is a .tar.gz archive (gzip magic 1f 8b)")
        }
        let digest = SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
        // One statement: a second upload with the same token, or a late one, changes nothing.
        let stored = try await rows(
            """
            UPDATE support_bundles SET uploaded_at = now(), size = \(Int64(bytes.count)), sha256 = \(digest),
                archive = \(archive)
            WHERE token_hash = \(hash) AND uploaded_at IS NULL AND expires_at > now()
            RETURNING org_id, id, device_id
            """
        )
        guard let row = stored.first else { throw refused }
        let (org, id, device) = try row.decode((String, String, String).self)
        logger.notice(
            "support bundle uploaded",
            metadata: ["org": "\(org)", "device": "\(device)", "bundle": "\(id)", "bytes": "\(bytes.count)"]
        )
        return try await bundles(org, device: nil, id: id)[0]
    }

    func bundles(_ org: String, device: String?, id: String?) async throws -> [APIModel.SupportBundle] {
        try await rows(
            """
            SELECT id, device_id, requested_by, requested_at, expires_at, uploaded_at, size, sha256, jti,
                expires_at <= now()
            FROM support_bundles
            WHERE org_id = \(org) AND (\(device)::text IS NULL OR device_id = \(device))
            AND (\(id)::text IS NULL OR id = \(id))
            ORDER BY requested_at DESC, id LIMIT 50
            """
        ).map(Self.bundle)
    }

    /// Each board's newest bundle (the devices page): one row per board however many bundles the org has, through
    /// the `(org_id, device_id, requested_at DESC)` index.
    func newestBundles(_ org: String) async throws -> [String: APIModel.SupportBundle] {
        let newest = try await rows(
            """
            SELECT DISTINCT ON (device_id) id, device_id, requested_by, requested_at, expires_at, uploaded_at, size,
                sha256, jti, expires_at <= now()
            FROM support_bundles WHERE org_id = \(org)
            ORDER BY device_id, requested_at DESC, id
            """
        ).map(Self.bundle)
        return Dictionary(newest.map { ($0.device, $0) }, uniquingKeysWith: { a, _ in a })
    }

    private static func bundle(_ row: PostgresRow) throws -> APIModel.SupportBundle {
        let r = try row.decode((String, String, String, Date, Date, Date?, Int64?, String?, String?, Bool).self)
        return APIModel.SupportBundle(
            id: r.0,
            device: r.1,
            state: r.5 != nil ? "uploaded" : (r.9 ? "expired" : "requested"),
            requestedBy: r.2,
            requestedAt: r.3,
            expiresAt: r.4,
            uploadedAt: r.5,
            size: r.6,
            sha256: r.7,
            command: r.8
        )
    }
}
