import Foundation
import Logging
import Mosquitto
import PostgresNIO
import WardenWire

/// What a facility manager does, as one Swift API (the HTTP API of the next issue exposes it; `warden-cloud`
/// subcommands call it until then): set up orgs, sites, doors and devices; grant and revoke (each change a new
/// signed version of the door's access list, sent to its boards at once and re-sent until they report it applied);
/// unlock and lockdown by signed command; read the audit trail.
public struct CloudOperations: Sendable {
    public let store: CloudStore
    public let authority: CloudAuthority
    let mqtt: MQTTClient
    let commandLifetime: Duration
    /// Wait for the broker's PUBACK on every message (a command-line run that exits right after); the long-running
    /// service queues and moves on (the re-send loop covers a lost message).
    let awaitDelivery: Bool
    public let logger: Logger
    /// The device CA's side (provisioning configured); nil: boards are registered by hand.
    public var provisioner: DeviceProvisioner?
    var db: PostgresClient { store.client }

    public init(
        store: CloudStore,
        authority: CloudAuthority,
        mqtt: MQTTClient,
        commandLifetime: Duration = .seconds(60),
        awaitDelivery: Bool = false,
        logger: Logger
    ) {
        self.awaitDelivery = awaitDelivery
        self.store = store
        self.authority = authority
        self.mqtt = mqtt
        self.commandLifetime = commandLifetime
        self.logger = logger
    }

    @discardableResult
    func wrap<T>(_ what: String, _ body: () async throws -> T) async throws(CloudError) -> T {
        try await store.wrap(what, body)
    }

    static func checkID(_ id: String, _ what: String) throws(CloudError) {
        guard DeviceTopics.isValidID(id) else {
            throw CloudError(.invalid, "\(what) '\(id)' is not valid: use 1-64 of a-z, 0-9 and '-'")
        }
    }

    // MARK: set-up

    public func createOrg(id: String, name: String) async throws(CloudError) {
        try Self.checkID(id, "org id")
        try await wrap("creating org \(id)") {
            try await db.query(
                "INSERT INTO orgs(id, name) VALUES (\(id), \(name)) ON CONFLICT (id) DO UPDATE SET name = excluded.name",
                logger: logger
            )
        }
    }

    public func createSite(
        org: String,
        id: String,
        name: String,
        timeZone: String,
        holidays: [String] = []
    ) async throws(CloudError) {
        try Self.checkID(id, "site id")
        guard TimeZone(identifier: timeZone) != nil else {
            throw CloudError(.invalid, "time zone '\(timeZone)' is not an IANA zone (e.g. Europe/Berlin)")
        }
        try await wrap("creating site \(org)/\(id)") {
            let days = "{\(holidays.joined(separator: ","))}"
            try await db.query(
                """
                INSERT INTO sites(org_id, id, name, time_zone, holidays) VALUES (\(org), \(id), \(name), \(timeZone), \(days)::date[])
                ON CONFLICT (org_id, id) DO UPDATE SET name = excluded.name, time_zone = excluded.time_zone, holidays = excluded.holidays
                """,
                logger: logger
            )
        }
    }

    /// A door starts at access-list version 1, empty: a board's first snapshot request has something to answer.
    public func createDoor(org: String, site: String, id: String, name: String) async throws(CloudError) {
        try Self.checkID(id, "door id")
        try await wrap("creating door \(org)/\(id)") {
            try await db.query(
                "INSERT INTO doors(org_id, id, site_id, name) VALUES (\(org), \(id), \(site), \(name)) ON CONFLICT (org_id, id) DO UPDATE SET name = excluded.name",
                logger: logger
            )
        }
    }

    /// Registers a board (its device id is its lock id and its MQTT identity) on a door.
    public func registerDevice(org: String, door: String, id: String) async throws(CloudError) {
        try Self.checkID(id, "device id")
        guard !BoardProvisioning.isProvisionedID(id) else {
            throw CloudError(
                .invalid,
                "device id '\(id)' has the shape of a provisioned board's (lock- and 20 hex digits): choose another"
            )
        }
        try await wrap("registering device \(org)/\(id)") {
            try await db.query(
                "INSERT INTO devices(org_id, id, door_id) VALUES (\(org), \(id), \(door)) ON CONFLICT (org_id, id) DO UPDATE SET door_id = excluded.door_id",
                logger: logger
            )
        }
    }

    // MARK: access

    /// Grants a credential at a door: the door's next access-list version, signed, stored and sent to its boards.
    @discardableResult
    public func grant(org: String, door: String, credentialID: String, userID: String) async throws(CloudError) -> Int64
    {
        try await change(org: org, door: door, grant: [.init(id: credentialID, user: userID)], revoke: [])
    }

    /// Revokes a credential at a door (the same path as `grant`): its boards refuse it once they apply the version.
    @discardableResult
    public func revoke(
        org: String,
        door: String,
        credentialID: String,
        userID: String
    ) async throws(CloudError) -> Int64 {
        try await change(org: org, door: door, grant: [], revoke: [.init(id: credentialID, user: userID)])
    }

    func change(
        org: String,
        door: String,
        grant: [AccessListUpdate.Entry],
        revoke: [AccessListUpdate.Entry]
    ) async throws(CloudError) -> Int64 {
        let versions = try await change(org: org, doors: [door], grant: grant, revoke: revoke)
        guard let version = versions[door] else {
            throw CloudError(.notFound, "door '\(door)' not found in org '\(org)'")
        }
        return version
    }

    /// Grants and revokes at many doors in one transaction: each door's next version, signed, stored, then sent to
    /// its boards (revoking a lost phone everywhere is one call, and one commit, whatever the number of doors).
    /// Returns the new version of each door found; doors the org does not have are left out. `first` runs in the
    /// same transaction before the doors are locked (the API stores a new key with its access lists: one commit).
    @discardableResult
    public func change(
        org: String,
        doors: [String],
        grant: [AccessListUpdate.Entry],
        revoke: [AccessListUpdate.Entry],
        first: (@Sendable (PostgresConnection) async throws -> Void)? = nil
    ) async throws(CloudError) -> [String: Int64] {
        let authority = self.authority
        let entries = grant.map { ($0, "active") } + revoke.map { ($0, "revoked") }
        let (signed, targets) = try await wrap("changing the access lists of \(doors.count) door(s) in \(org)") {
            try await db.withTransaction(logger: logger) { conn -> ([(String, Int64, String)], [(String, String)]) in
                try await first?(conn)
                var current: [(String, Int64)] = []
                for try await row in try await conn.query(
                    "SELECT id, access_version FROM doors WHERE org_id = \(org) AND id = ANY(\(doors)) ORDER BY id FOR UPDATE",
                    logger: logger
                ).decode((String, Int64).self) {
                    current.append(row)
                }
                guard !current.isEmpty else { return ([], []) }
                let issuedAt = Date()
                var signed: [(String, Int64, String)] = []
                signed.reserveCapacity(current.count)
                for (door, version) in current {
                    let jws = try await authority.sign(
                        AccessListUpdate(
                            issuer: authority.name,
                            doors: [door],
                            version: version + 1,
                            base: version,
                            snapshot: false,
                            grant: grant,
                            revoke: revoke,
                            issuedAt: issuedAt
                        )
                    )
                    signed.append((door, version + 1, jws))
                }
                let ids = signed.map(\.0)
                let versions = signed.map(\.1)
                // One statement for the three writes, and the doors' boards read in the same round trip: the door
                // rows stay locked for as few round trips as possible (grants to one door queue on that lock).
                var targets: [(String, String)] = []
                for try await row in try await conn.query(
                    """
                    WITH d AS (
                        SELECT * FROM unnest(\(ids)::text[], \(versions)::bigint[], \(signed.map(\.2))::text[])
                            AS d(door, ver, jws)
                    ), entries AS (
                        INSERT INTO access_entries(org_id, door_id, credential_id, user_id, status, changed_version)
                        SELECT \(org), d.door, e.id, e.user_id, e.status, d.ver
                        FROM d CROSS JOIN unnest(\(entries.map(\.0.id))::text[], \(entries.map(\.0.user))::text[],
                            \(entries.map(\.1))::text[]) AS e(id, user_id, status)
                        ON CONFLICT (org_id, door_id, credential_id) DO UPDATE
                        SET user_id = excluded.user_id, status = excluded.status,
                            changed_version = excluded.changed_version
                    ), versions AS (
                        INSERT INTO access_versions(org_id, door_id, ver, jws) SELECT \(org), door, ver, jws FROM d
                    ), bumped AS (
                        UPDATE doors SET access_version = d.ver FROM d WHERE doors.org_id = \(org) AND doors.id = d.door
                    )
                    SELECT v.id, v.door_id FROM devices v WHERE v.org_id = \(org) AND v.door_id = ANY(\(ids))
                    """,
                    logger: logger
                ).decode((String, String).self) {
                    targets.append(row)
                }
                return (signed, targets)
            }
        }
        let jwsByDoor = Dictionary(signed.map { ($0.0, $0.2) }, uniquingKeysWith: { a, _ in a })
        // All at once: with `awaitDelivery` each publish waits for its PUBACK, and one after the other a revocation
        // reached the thousandth board a second after the first (measured with 1,000 boards, docs/benchmarks.md).
        await withTaskGroup(of: Void.self) { group in
            for (device, door) in targets {
                guard let jws = jwsByDoor[door] else { continue }
                group.addTask { await self.sendAccess(org: org, device: device, jws: jws) }
            }
        }
        logger.info(
            "access lists changed",
            metadata: ["org": "\(org)", "doors": "\(signed.count)", "boards": "\(targets.count)"]
        )
        return Dictionary(signed.map { ($0.0, $0.1) }, uniquingKeysWith: { a, _ in a })
    }

    /// The doors of the org where a credential is listed as active (where revoking it changes something).
    public func doorsListing(org: String, credentialID: String) async throws(CloudError) -> [String] {
        try await wrap("finding the doors that list \(credentialID)") {
            var out: [String] = []
            for try await d in try await db.query(
                "SELECT door_id FROM access_entries WHERE org_id = \(org) AND credential_id = \(credentialID) AND status = 'active'",
                logger: logger
            ).decode(String.self) {
                out.append(d)
            }
            return out
        }
    }

    /// Every door of the org.
    public func allDoors(org: String) async throws(CloudError) -> [String] {
        try await wrap("listing the doors of \(org)") {
            var out: [String] = []
            for try await d in try await db.query("SELECT id FROM doors WHERE org_id = \(org)", logger: logger)
                .decode(String.self)
            {
                out.append(d)
            }
            return out
        }
    }

    /// Registers a simulated fleet in two statements: doors `door-{prefix}-{i:05}` on `site` and their boards
    /// `{prefix}-{i:05}` for i in first..<first+count (`wardenctl fleet-sim` uses the same names).
    public func registerFleet(
        org: String,
        site: String,
        prefix: String,
        first: Int,
        count: Int
    ) async throws(CloudError) {
        try Self.checkID("\(prefix)-00000", "fleet prefix")
        guard first >= 0, count > 0, first + count <= 100_000 else {
            throw CloudError(.invalid, "fleet: --first and --count must stay within 0..<100000")
        }
        let last = first + count - 1
        try await wrap("registering \(count) fleet boards in \(org)") {
            try await db.withTransaction(logger: logger) { conn in
                try await conn.query(
                    """
                    INSERT INTO doors(org_id, id, site_id, name)
                    SELECT \(org), 'door-' || \(prefix) || '-' || lpad(i::text, 5, '0'), \(site),
                        'Simulated door ' || i FROM generate_series(\(first), \(last)) AS i
                    ON CONFLICT (org_id, id) DO NOTHING
                    """,
                    logger: logger
                )
                try await conn.query(
                    """
                    INSERT INTO devices(org_id, id, door_id)
                    SELECT \(org), \(prefix) || '-' || lpad(i::text, 5, '0'),
                        'door-' || \(prefix) || '-' || lpad(i::text, 5, '0') FROM generate_series(\(first), \(last)) AS i
                    ON CONFLICT (org_id, id) DO UPDATE SET door_id = excluded.door_id
                    """,
                    logger: logger
                )
            }
        }
    }

    func sendAccess(org: String, device: String, jws: String) async {
        guard let topics = try? DeviceTopics(org: org, dev: device) else { return }
        do {
            try await deliver(
                topic: topics.topic(.access),
                payload: WireJSON.encode(SignedEnvelope(jws: jws)),
                properties: MQTTProperties(messageExpiry: 7 * 86_400)
            )
        } catch {
            logger.warning(
                "cannot queue an access-list update; the re-send loop retries",
                metadata: ["device": "\(device)", "error": "\(error)"]
            )
        }
    }

    /// A signed snapshot of the door's whole list at its current version (active and revoked entries: a board
    /// that does not require listing must still know what is revoked).
    public func snapshot(org: String, door: String) async throws(CloudError) -> String {
        let (version, grant, revoke) = try await wrap("reading the access list of \(org)/\(door)") {
            var version: Int64 = 1
            for try await v in try await db.query(
                "SELECT access_version FROM doors WHERE org_id = \(org) AND id = \(door)",
                logger: logger
            ).decode(Int64.self) {
                version = v
            }
            var grant: [AccessListUpdate.Entry] = []
            var revoke: [AccessListUpdate.Entry] = []
            let rows = try await db.query(
                "SELECT credential_id, user_id, status FROM access_entries WHERE org_id = \(org) AND door_id = \(door) ORDER BY credential_id",
                logger: logger
            )
            for try await (id, user, status) in rows.decode((String, String, String).self) {
                if status == "active" {
                    grant.append(.init(id: id, user: user))
                } else {
                    revoke.append(.init(id: id, user: user))
                }
            }
            return (version, grant, revoke)
        }
        return try await authority.sign(
            AccessListUpdate(
                issuer: authority.name,
                doors: [door],
                version: version,
                base: nil,
                snapshot: true,
                grant: grant,
                revoke: revoke,
                issuedAt: Date()
            )
        )
    }

    /// Sends a board what it lacks: the deltas after its applied version, or a snapshot when it has none, is far
    /// behind, or the deltas are not all stored.
    public func catchUp(
        org: String,
        device: String,
        door: String,
        applied: Int64?,
        current: Int64
    ) async throws(CloudError) {
        if let applied, applied > 0, current - applied <= 50 {
            let deltas = try await wrap("reading access-list versions") {
                var out: [(Int64, String)] = []
                for try await row in try await db.query(
                    "SELECT ver, jws FROM access_versions WHERE org_id = \(org) AND door_id = \(door) AND ver > \(applied) ORDER BY ver",
                    logger: logger
                ).decode((Int64, String).self) {
                    out.append(row)
                }
                return out
            }
            if deltas.count == Int(current - applied), deltas.first?.0 == applied + 1 {
                for (_, jws) in deltas { await sendAccess(org: org, device: device, jws: jws) }
                return
            }
        }
        await sendAccess(org: org, device: device, jws: try await snapshot(org: org, door: door))
    }

    /// After a board reported its state: if its applied version is behind its door's, send what it lacks now.
    public func catchUpIfBehind(org: String, device: String) async throws(CloudError) {
        let row = try await wrap("reading the access position of \(org)/\(device)") { () -> (String, Int64?, Int64)? in
            let rows = try await db.query(
                """
                SELECT d.door_id, d.applied_version, o.access_version FROM devices d
                JOIN doors o ON o.org_id = d.org_id AND o.id = d.door_id WHERE d.org_id = \(org) AND d.id = \(device)
                """,
                logger: logger
            )
            for try await r in rows.decode((String, Int64?, Int64).self) { return r }
            return nil
        }
        guard let (door, applied, current) = row, (applied ?? 0) < current else { return }
        try await catchUp(org: org, device: device, door: door, applied: applied, current: current)
    }

    /// A board asked for a snapshot (first start, a gap, a bad signature).
    public func sendSnapshot(org: String, device: String, because request: AccessRequest) async throws(CloudError) {
        guard let door = try await store.doorOf(org: org, device: device) else { return }
        await sendAccess(org: org, device: device, jws: try await snapshot(org: org, door: door))
        logger.info(
            "sent an access-list snapshot",
            metadata: ["device": "\(device)", "reason": "\(request.reason.rawValue)", "had": "\(request.have)"]
        )
    }

    /// Every online board whose reported version is behind its door's: sent what it lacks (the re-send loop).
    public func resendBehind() async throws(CloudError) -> Int {
        let behind = try await wrap("finding devices behind on their access list") {
            var out: [(String, String, String, Int64?, Int64)] = []
            let rows = try await db.query(
                """
                SELECT d.org_id, d.id, d.door_id, d.applied_version, o.access_version FROM devices d
                JOIN doors o ON o.org_id = d.org_id AND o.id = d.door_id
                WHERE d.online AND (d.applied_version IS NULL OR d.applied_version < o.access_version)
                """,
                logger: logger
            )
            for try await row in rows.decode((String, String, String, Int64?, Int64).self) { out.append(row) }
            return out
        }
        for (org, device, door, applied, current) in behind {
            try await catchUp(org: org, device: device, door: door, applied: applied, current: current)
        }
        return behind.count
    }

    func deliver(topic: String, payload: [UInt8], properties: MQTTProperties) async throws(MQTTError) {
        if awaitDelivery {
            try await mqtt.publish(topic: topic, payload: payload, properties: properties)
        } else {
            try mqtt.send(topic: topic, payload: payload, properties: properties)
        }
    }

    // MARK: commands

    /// Signs and sends a command to one board; returns its nonce (`jti`) to look the result up with.
    public func command(
        org: String,
        device: String,
        _ kind: SignedCommand.Kind,
        millis: Int64? = nil,
        on: Bool? = nil,
        version: String? = nil,
        uploadURL: String? = nil,
        uploadToken: String? = nil
    ) async throws(CloudError) -> String {
        guard let topics = try? DeviceTopics(org: org, dev: device) else {
            throw CloudError(.invalid, "bad device id '\(device)'")
        }
        guard try await store.doorOf(org: org, device: device) != nil else {
            throw CloudError(.notFound, "device '\(device)' not found in org '\(org)'")
        }
        let now = Date()
        // An update order may wait on the board for an idle door in a maintenance window (a day); a support-bundle
        // request for a board that is offline (an hour). The others live `commandLifetime`.
        let lifetime =
            kind == .update || kind == .supportBundle
            ? TimeInterval(SignedCommand.maxLifetime(kind)) : commandLifetime / .seconds(1)
        let expires = now.addingTimeInterval(lifetime)
        let jti = UUID().uuidString.lowercased()
        let jws = try await authority.sign(
            SignedCommand(
                issuer: authority.name,
                device: device,
                command: kind,
                millis: millis,
                on: on,
                version: version,
                uploadURL: uploadURL,
                uploadToken: uploadToken,
                nonce: jti,
                issuedAt: now,
                expires: expires
            )
        )
        try await wrap("recording command \(jti)") {
            try await db.query(
                "INSERT INTO commands(jti, org_id, device_id, cmd, jws, expires_at) VALUES (\(jti), \(org), \(device), \(kind.rawValue), \(jws), \(expires))",
                logger: logger
            )
        }
        do {
            try await deliver(
                topic: topics.topic(.cmd),
                payload: WireJSON.encode(SignedEnvelope(jws: jws)),
                properties: MQTTProperties(messageExpiry: UInt32(max(1, lifetime)))
            )
        } catch { throw CloudError(.broker, "cannot send the command: \(error)") }
        return jti
    }

    /// The board's answer to a command, waiting up to `timeout` for it.
    public func commandResult(jti: String, timeout: Duration) async throws(CloudError) -> CommandResult? {
        let deadline = ContinuousClock.now + timeout
        while true {
            let found = try await wrap("reading command \(jti)") { () -> CommandResult? in
                for try await (code, detail) in try await db.query(
                    "SELECT result_code, result_detail FROM commands WHERE jti = \(jti) AND result_code IS NOT NULL",
                    logger: logger
                ).decode((String, String?).self) {
                    return CommandResult(
                        jti: jti,
                        code: CommandResult.Code(rawValue: code) ?? .malformed,
                        detail: detail
                    )
                }
                return nil
            }
            if let found { return found }
            if ContinuousClock.now >= deadline { return nil }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    // MARK: audit

    public struct AuditRow: Sendable, Equatable, Codable {
        public var device: String
        public var seq: Int64
        public var atMillis: Int64
        public var kind: String
        public var door: String?
        public var credentialID: String?
        public var userID: String?
        public var reason: String?
        public var detail: String?
        public var flags: [String]?
    }

    /// The org's trail, newest first, filtered by door, user and time.
    public func audit(
        org: String,
        door: String? = nil,
        user: String? = nil,
        device: String? = nil,
        since: Date? = nil,
        limit: Int = 100
    ) async throws(CloudError) -> [AuditRow] {
        try await wrap("reading the audit trail of \(org)") {
            var out: [AuditRow] = []
            let since = since ?? Date(timeIntervalSince1970: 0)
            let rows = try await db.query(
                """
                SELECT device_id, seq, at_ms, kind, door_id, credential_id, user_id, reason, detail, flags FROM audit_events
                WHERE org_id = \(org) AND (\(door)::text IS NULL OR door_id = \(door)) AND (\(user)::text IS NULL OR user_id = \(user))
                AND (\(device)::text IS NULL OR device_id = \(device)) AND at >= \(since)
                ORDER BY at DESC, device_id, seq DESC LIMIT \(limit)
                """,
                logger: logger
            )
            for try await r in rows.decode(
                (String, Int64, Int64, String, String?, String?, String?, String?, String?, [String]?).self
            ) {
                out.append(
                    AuditRow(
                        device: r.0,
                        seq: r.1,
                        atMillis: r.2,
                        kind: r.3,
                        door: r.4,
                        credentialID: r.5,
                        userID: r.6,
                        reason: r.7,
                        detail: r.8,
                        flags: r.9
                    )
                )
            }
            return out
        }
    }
}
