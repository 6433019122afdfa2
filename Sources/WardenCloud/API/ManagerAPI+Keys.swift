import Crypto
import Foundation
import Hummingbird
import NIOCore
import PostgresNIO
import WardenAuthority
import WardenCore
import WardenWire

/// Keys (grants of doors to a user, with validity and a weekly schedule), visitors' temporary keys, and the
/// phone's side: enrolling its holder key with an invitation and fetching its credentials.
///
/// A key becomes one credential per enrolled phone of its user, id `<key>-<phone>`, signed with the phone's holder
/// key in `cnf`. Credentials are signed afresh on each fetch, so a changed key reaches the phone at its next
/// fetch; revoking a key revokes every one of its credentials in the doors' access lists at once.
extension ManagerAPI {
    func registerKeys(_ t: inout RouteTable) {
        t.on(.get, "/v1/keys") { r, c in
            let caller = try c.caller()
            let filter = KeyFilter(
                user: try Self.queryID(r, "user"),
                door: try Self.queryID(r, "door"),
                status: Self.query(r, "status")
            )
            if let s = filter.status, s != "active", s != "revoked" {
                throw Problem.invalid("status", "must be active or revoked")
            }
            return try APIJSON.response(APIModel.Page(items: try await keys(caller, filter)))
        }
        t.on(.post, "/v1/keys") { r, c in
            let caller = try c.caller()
            try caller.requireWrite()
            let input = try await APIJSON.decode(APIModel.KeyInput.self, from: r, context: c)
            let key = try await grant(input, caller: caller)
            return try APIJSON.response(key, status: .created)
        }
        t.on(.get, "/v1/keys/{id}") { _, c in
            try APIJSON.response(try await keyModel(try Self.pathID(c, what: "key"), try c.caller()))
        }
        t.on(.post, "/v1/keys/{id}/revoke") { _, c in
            let caller = try c.caller()
            let id = try Self.pathID(c, what: "key")
            _ = try await keyModel(id, caller)
            try caller.requireWrite()
            try await revokeKey(id, caller: caller)
            return try APIJSON.response(try await keyModel(id, caller))
        }
        t.on(.post, "/v1/visitors") { r, c in
            let caller = try c.caller()
            try caller.requireWrite()
            let input = try await APIJSON.decode(APIModel.VisitorInput.self, from: r, context: c)
            try APIInput.text(input.name, "name")
            try APIInput.email(input.email)
            guard input.validUntil.timeIntervalSinceNow <= 31 * 86_400 else {
                throw Problem.invalid("valid_until", "a visitor key lasts at most 31 days")
            }
            let id = Secrets.id("v")
            let keyInput = APIModel.KeyInput(
                user: id,
                doors: input.doors,
                groups: input.groups,
                validFrom: input.validFrom,
                validUntil: input.validUntil,
                schedule: nil,
                extendedTime: false,
                oneTime: input.oneTime
            )
            // Checked before the user is written: a refused key leaves no stray visitor behind.
            _ = try await checkedKey(keyInput, caller: caller, userExists: false)
            if try await emailTaken(input.email, org: caller.org) {
                throw Problem(
                    .conflict,
                    "a user with this email already exists; grant them a key instead",
                    field: "email"
                )
            }
            try await db.query(
                "INSERT INTO users(org_id, id, email, name, role) VALUES (\(caller.org), \(id), \(input.email), \(input.name), 'holder')",
                logger: logger
            )
            let key: APIModel.Key
            do { key = try await grant(keyInput, caller: caller) } catch {
                // Checked above, so only a database fault lands here: leave no visitor without a key.
                _ = try? await db.query("DELETE FROM users WHERE org_id = \(caller.org) AND id = \(id)", logger: logger)
                throw error
            }
            let hours = max(1, Int((input.validUntil.timeIntervalSinceNow / 3600).rounded(.up)))
            let invitation = try await invite(user: id, hours: min(hours, 720), caller: caller)
            return try APIJSON.response(
                APIModel.Visitor(user: try await user(id, caller), key: key, invitation: invitation),
                status: .created
            )
        }

        // The phone's side: authenticated by the invitation, then by its own phone token.
        t.on(.post, "/v1/phone/enroll") { r, c in
            let input = try await APIJSON.decode(APIModel.PhoneEnrollInput.self, from: r, context: c)
            return try APIJSON.response(try await enroll(input), status: .created)
        }
        t.on(.get, "/v1/phone/credentials") { r, _ in
            guard let auth = r.headers[.authorization], auth.lowercased().hasPrefix("bearer ") else {
                throw Problem(.unauthorized, "send the phone token as 'Authorization: Bearer <token>'")
            }
            let token = String(auth.dropFirst(7)).trimmingCharacters(in: .whitespaces)
            let found = try await rows(
                "SELECT org_id, id, user_id FROM phones WHERE token_hash = \(ByteBuffer(bytes: Secrets.hash(token)))"
            )
            guard let row = found.first else { throw Problem(.unauthorized, "unknown phone token; enroll again") }
            let (org, phone, user) = try row.decode((String, String, String).self)
            try await db.query(
                "UPDATE phones SET last_fetch_at = now() WHERE org_id = \(org) AND id = \(phone)",
                logger: logger
            )
            return try APIJSON.response(try await credentials(org: org, phone: phone, user: user))
        }
    }

    struct KeyFilter {
        var user: String?
        var door: String?
        var status: String?
        var id: String?
    }

    struct CheckedKey {
        var doors: [String]
        var groups: [String]
        /// The doors it reaches: its doors and its groups' doors.
        var reaches: [String]
        var validFrom: Date
        var validUntil: Date
        var schedule: [ScheduleWindow]
    }

    func checkedKey(_ input: APIModel.KeyInput, caller: Principal, userExists: Bool = true) async throws -> CheckedKey {
        try APIInput.id(input.user, "user")
        if userExists {
            do { _ = try await user(input.user, caller) } catch {
                throw Problem.invalid("user", "no user '\(input.user)'")
            }
        }
        let doors = input.doors ?? []
        let groups = input.groups ?? []
        guard !doors.isEmpty || !groups.isEmpty else {
            throw Problem.invalid("doors", "name at least one door or group")
        }
        let reaches = try await resolveDoors(doors, groups: groups, for: caller)
        let from = input.validFrom ?? Date()
        let until = input.validUntil ?? from.addingTimeInterval(365 * 86_400)
        try APIInput.time(from, "valid_from")
        try APIInput.time(until, "valid_until")
        guard until > Date() else { throw Problem.invalid("valid_until", "must be in the future") }
        guard until > from else { throw Problem.invalid("valid_until", "must be after valid_from") }
        guard until.timeIntervalSince(from) <= 10 * 366 * 86_400 else {
            throw Problem.invalid("valid_until", "a key lasts at most 10 years")
        }
        let schedule = input.schedule ?? []
        try APIInput.schedule(schedule)
        return CheckedKey(
            doors: doors,
            groups: groups,
            reaches: reaches,
            validFrom: from,
            validUntil: until,
            schedule: schedule
        )
    }

    /// Stores the key and, when its user already has phones, lists their new credentials at the key's doors: the
    /// key and the access lists in one transaction (one commit to wait for), and the answer built from what was
    /// stored rather than read back.
    func grant(_ input: APIModel.KeyInput, caller: Principal) async throws -> APIModel.Key {
        // The user's existence and phones in one round trip, checked in the order `checkedKey` checks.
        try APIInput.id(input.user, "user")
        guard
            let phones = try await rows(
                """
                SELECT array(SELECT id FROM phones WHERE org_id = \(caller.org) AND user_id = \(input.user) ORDER BY id)
                FROM users WHERE org_id = \(caller.org) AND id = \(input.user)
                """
            ).first?.decode([String].self)
        else { throw Problem.invalid("user", "no user '\(input.user)'") }
        let k = try await checkedKey(input, caller: caller, userExists: false)
        let id = Secrets.id("k")
        let schedule = k.schedule.isEmpty ? nil : String(decoding: try JSONEncoder().encode(k.schedule), as: UTF8.self)
        let createdAt = Date()
        let (org, logger) = (caller.org, self.logger)
        let insert: @Sendable (PostgresConnection) async throws -> Void = { conn in
            try await conn.query(
                """
                INSERT INTO keys(org_id, id, user_id, doors, groups, not_before, expires_at, schedule, extended_time,
                    one_time, status, created_at)
                VALUES (\(org), \(id), \(input.user), \(k.doors), \(k.groups), \(k.validFrom), \(k.validUntil),
                    \(schedule)::jsonb, \(input.extendedTime ?? false), \(input.oneTime ?? false), 'active', \(createdAt))
                """,
                logger: logger
            )
        }
        if phones.isEmpty {
            try await db.withConnection { try await insert($0) }
        } else {
            try await operations.change(
                org: caller.org,
                doors: k.reaches,
                grant: phones.map { .init(id: "\(id)-\($0)", user: input.user) },
                revoke: [],
                first: insert
            )
        }
        logger.notice(
            "key granted",
            metadata: [
                "org": "\(caller.org)", "key": "\(id)", "user": "\(input.user)", "by": "\(caller.user)",
                "doors": "\(k.reaches.count)",
            ]
        )
        return APIModel.Key(
            id: id,
            user: input.user,
            doors: k.doors,
            groups: k.groups,
            validFrom: k.validFrom,
            validUntil: k.validUntil,
            schedule: k.schedule,
            extendedTime: input.extendedTime ?? false,
            oneTime: input.oneTime ?? false,
            status: "active",
            createdAt: createdAt,
            revokedAt: nil,
            phones: phones.count
        )
    }

    func revokeKey(_ id: String, caller: Principal) async throws {
        guard try await revokeKey(org: caller.org, id: id, onlyActive: false) else {
            throw Problem.notFound("key '\(id)'")
        }
        logger.notice("key revoked", metadata: ["org": "\(caller.org)", "key": "\(id)", "by": "\(caller.user)"])
    }

    /// Marks the key revoked and revokes its credentials at every door it reaches. With `onlyActive`, a key
    /// already revoked is left alone (false): of several instances sweeping one-time keys, one does the work.
    func revokeKey(org: String, id: String, onlyActive: Bool) async throws -> Bool {
        let found = try await rows(
            """
            UPDATE keys SET status = 'revoked', revoked_at = coalesce(revoked_at, now())
            WHERE org_id = \(org) AND id = \(id) AND (NOT \(onlyActive) OR status = 'active')
            RETURNING user_id, doors, groups
            """
        )
        guard let row = found.first else { return false }
        let (user, doors, groups) = try row.decode((String, [String], [String]).self)
        let all = try await resolveDoorsUnchecked(org: org, doors: doors, groups: groups)
        let phones = try await phoneIDs(org: org, user: user)
        if !phones.isEmpty {
            try await operations.change(
                org: org,
                doors: all,
                grant: [],
                revoke: phones.map { .init(id: "\(id)-\($0)", user: user) }
            )
        }
        return true
    }

    /// A key's doors as stored, groups expanded as they are now (no visibility check: revoking must reach all).
    func resolveDoorsUnchecked(org: String, doors: [String], groups: [String]) async throws -> [String] {
        var all = Set(doors)
        for row in try await rows("SELECT doors FROM door_groups WHERE org_id = \(org) AND id = ANY(\(groups))") {
            all.formUnion(try row.decode([String].self))
        }
        return all.sorted()
    }

    func phoneIDs(org: String, user: String) async throws -> [String] {
        try await rows("SELECT id FROM phones WHERE org_id = \(org) AND user_id = \(user) ORDER BY id").map {
            try $0.decode(String.self)
        }
    }

    func keys(_ caller: Principal, _ f: KeyFilter) async throws -> [APIModel.Key] {
        let rows = try await rows(
            """
            SELECT k.id, k.user_id, k.doors, k.groups, k.not_before, k.expires_at, coalesce(k.schedule::text, '[]'),
                k.extended_time, k.one_time, k.status, k.created_at, k.revoked_at,
                (SELECT count(*) FROM phones p WHERE p.org_id = k.org_id AND p.user_id = k.user_id),
                coalesce((SELECT array_agg(DISTINCT d) FROM (SELECT unnest(k.doors) AS d UNION
                    SELECT unnest(g.doors) FROM door_groups g WHERE g.org_id = k.org_id AND g.id = ANY(k.groups)) x), '{}')
            FROM keys k WHERE k.org_id = \(caller.org) AND (\(f.user)::text IS NULL OR k.user_id = \(f.user))
            AND (\(f.status)::text IS NULL OR k.status = \(f.status)) AND (\(f.id)::text IS NULL OR k.id = \(f.id))
            ORDER BY k.created_at DESC, k.id LIMIT 10000
            """
        )
        var out: [APIModel.Key] = []
        let doorSites: [String: String]? =
            caller.siteFilter == nil
            ? nil
            : Dictionary(
                try await doors(caller, site: nil).map { ($0.id, $0.site) },
                uniquingKeysWith: { a, _ in a }
            )
        for row in rows {
            let r = try row.decode(
                (
                    String, String, [String], [String], Date, Date, String, Bool, Bool, String, Date, Date?, Int64,
                    [String]
                )
                .self
            )
            // A site manager sees a key only when all its doors are on their sites.
            if let doorSites, !r.13.allSatisfy({ doorSites[$0] != nil }) { continue }
            if let door = f.door, !r.13.contains(door) { continue }
            out.append(
                APIModel.Key(
                    id: r.0,
                    user: r.1,
                    doors: r.2,
                    groups: r.3,
                    validFrom: r.4,
                    validUntil: r.5,
                    schedule: (try? JSONDecoder().decode([ScheduleWindow].self, from: Data(r.6.utf8))) ?? [],
                    extendedTime: r.7,
                    oneTime: r.8,
                    status: r.9,
                    createdAt: r.10,
                    revokedAt: r.11,
                    phones: Int(r.12)
                )
            )
        }
        return out
    }

    func keyModel(_ id: String, _ caller: Principal) async throws -> APIModel.Key {
        guard let k = try await keys(caller, KeyFilter(id: id)).first else { throw Problem.notFound("key '\(id)'") }
        return k
    }

    // MARK: phones

    func enroll(_ input: APIModel.PhoneEnrollInput) async throws -> APIModel.PhoneEnrollment {
        guard input.invitation.count >= 40, input.invitation.count <= 64 else {
            throw Problem.invalid("invitation", "not an invitation token")
        }
        let jwk = input.publicKey
        guard jwk.kty == "EC", jwk.crv == "P-256", let x = Base64URL.decode(jwk.x), let y = Base64URL.decode(jwk.y),
            x.count == 32, y.count == 32, let key = try? P256.Signing.PublicKey(rawRepresentation: x + y)
        else { throw Problem.invalid("public_key", "must be a P-256 public key as a JWK (kty EC, crv P-256, x, y)") }
        let phone = Secrets.id("p")
        let token = Secrets.token(.phone)
        // Used once, atomically: two phones racing with one invitation cannot both enroll.
        let claimed = try await rows(
            """
            UPDATE invitations SET used_at = now()
            WHERE hash = \(ByteBuffer(bytes: Secrets.hash(input.invitation))) AND used_at IS NULL AND expires_at > now()
            RETURNING org_id, user_id
            """
        )
        guard let row = claimed.first else {
            throw Problem(
                .unauthorized,
                "the invitation is unknown, used or expired; ask for a new one",
                field: "invitation"
            )
        }
        let (org, user) = try row.decode((String, String).self)
        try await db.query(
            """
            INSERT INTO phones(org_id, id, user_id, public_key, token_hash)
            VALUES (\(org), \(phone), \(user), \(ByteBuffer(bytes: Array(key.rawRepresentation))), \(ByteBuffer(bytes: Secrets.hash(token))))
            """,
            logger: logger
        )
        // The new credentials go into the access lists of every door the user's keys open.
        for row in try await rows(
            "SELECT id, doors, groups FROM keys WHERE org_id = \(org) AND user_id = \(user) AND status = 'active' AND expires_at > now()"
        ) {
            let (id, doors, groups) = try row.decode((String, [String], [String]).self)
            try await operations.change(
                org: org,
                doors: try await resolveDoorsUnchecked(org: org, doors: doors, groups: groups),
                grant: [.init(id: "\(id)-\(phone)", user: user)],
                revoke: []
            )
        }
        logger.notice("phone enrolled", metadata: ["org": "\(org)", "user": "\(user)", "phone": "\(phone)"])
        return APIModel.PhoneEnrollment(
            phone: phone,
            phoneToken: token,
            credentials: try await credentials(org: org, phone: phone, user: user)
        )
    }

    /// Every active, unexpired key of the user, signed for this phone's holder key.
    func credentials(org: String, phone: String, user: String) async throws -> APIModel.PhoneCredentials {
        let found = try await rows("SELECT public_key FROM phones WHERE org_id = \(org) AND id = \(phone)")
        guard let row = found.first,
            let key = try? P256.Signing.PublicKey(rawRepresentation: Array(buffer: try row.decode(ByteBuffer.self)))
        else { throw Problem(.unauthorized, "unknown phone; enroll again") }
        var out: [APIModel.PhoneCredential] = []
        let now = Date()
        for row in try await rows(
            """
            SELECT id, doors, groups, not_before, expires_at, coalesce(schedule::text, '[]'), extended_time FROM keys
            WHERE org_id = \(org) AND user_id = \(user) AND status = 'active' AND expires_at > now() ORDER BY id
            """
        ) {
            let r = try row.decode((String, [String], [String], Date, Date, String, Bool).self)
            let doors = try await resolveDoorsUnchecked(org: org, doors: r.1, groups: r.2)
            let windows = (try? JSONDecoder().decode([ScheduleWindow].self, from: Data(r.5.utf8))) ?? []
            let claims = CredentialClaims(
                issuer: operations.authority.name,
                userID: user,
                credentialID: "\(r.0)-\(phone)",
                issuedAt: now,
                notBefore: r.3,
                expires: r.4,
                holderKey: key,
                doors: doors,
                schedule: WeeklySchedule(windows: windows),
                extendedTime: r.6
            )
            out.append(
                APIModel.PhoneCredential(
                    key: r.0,
                    credential: try await operations.authority.sign(claims),
                    doors: doors,
                    validUntil: r.4
                )
            )
        }
        let issuer = operations.authority.issuer
        return APIModel.PhoneCredentials(
            phone: phone,
            user: user,
            credentials: out,
            authority: [issuer.keyID: issuer.privateKey.publicKey.pemRepresentation]
        )
    }
}
