import Crypto
import Foundation
import HTTPTypes
import Logging
import NIOCore
import PostgresNIO
import SwiftASN1
import WardenAuthority
import WardenProtocol
import WardenWire
import X509

/// Turns an installer's enrollment token and a board's CSR into a named, certified board (docs/provisioning.md),
/// and revokes it again. The token is the only credential and is used up in the transaction that records the
/// device, so a token cannot make two boards; every refusal says which check failed and changes nothing.
public struct DeviceProvisioner: Sendable {
    public let ca: DeviceCA
    let settings: CloudConfig.Provisioning
    let brokerCA: String
    let db: PostgresClient
    let authority: CloudAuthority
    let logger: Logger

    public init(
        settings: CloudConfig.Provisioning,
        db: PostgresClient,
        authority: CloudAuthority,
        logger: Logger
    ) throws(CloudError) {
        ca = try DeviceCA.load(keyFile: settings.caKeyFile, certFile: settings.caCertFile)
        guard let pem = try? String(contentsOfFile: settings.brokerCAFile, encoding: .utf8),
            (try? Certificate(pemEncoded: pem)) != nil
        else {
            throw CloudError(
                .config,
                "provisioning.broker_ca: \(settings.brokerCAFile) is not a readable PEM certificate"
            )
        }
        brokerCA = pem
        self.settings = settings
        self.db = db
        self.authority = authority
        self.logger = logger
    }

    // MARK: provision

    public func provision(
        _ input: BoardProvisioning.ProvisionInput,
        now: Date
    ) async throws -> BoardProvisioning.Provisioned {
        guard (40...64).contains(input.token.utf8.count) else {
            throw Problem(.unauthorized, "the enrollment token is malformed; copy it whole", field: "token")
        }
        let tlsKey: P256.Signing.PublicKey
        do { tlsKey = try DeviceCA.publicKey(ofCSR: input.csr) } catch {
            throw Problem.invalid("csr", error.description)
        }
        guard let lockBytes = Data(base64Encoded: input.lockKey),
            let lockKey = try? P256.Signing.PublicKey(x963Representation: lockBytes)
        else { throw Problem.invalid("lock_key", "must be a P-256 public key, X9.63, base64") }
        guard let proofBytes = Data(base64Encoded: input.lockKeyProof),
            let proof = try? P256.Signing.ECDSASignature(derRepresentation: proofBytes),
            lockKey.isValidSignature(proof, for: BoardProvisioning.lockKeyProofMessage(csr: input.csr))
        else { throw Problem.invalid("lock_key_proof", "does not verify with lock_key over the CSR") }
        guard lockKey.rawRepresentation != tlsKey.rawRepresentation else {
            throw Problem.invalid("lock_key", "must differ from the CSR's key (the broker key rotates on its own)")
        }
        guard input.board.utf8.count <= 64, DeviceTopics.isValidID(input.board) else {
            throw Problem.invalid("board", "'\(input.board.prefix(80))' is not a board profile name")
        }
        if let door = input.door { try APIInput.id(door, "door") }

        let device = "lock-" + (0..<10).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        let certificate = try ca.issue(deviceID: device, key: tlsKey, now: now, lifetime: settings.certificateLifetime)
        let serial = DeviceCA.serialHex(certificate)
        let lockCert: LockCertificate
        do {
            let nb = UInt64(max(0, now.timeIntervalSince1970 - 300))
            lockCert = try LockCertificate.issue(
                lockID: device,
                deviceKey: lockKey,
                notBefore: nb,
                notAfter: nb + UInt64(settings.lockCertificateLifetime.components.seconds),
                keyID: authority.issuer.keyID,
                authority: authority.issuer.privateKey
            )
        } catch { throw CloudError(.invalid, "issuing the lock certificate failed: \(error)") }

        let tokenHash = ByteBuffer(bytes: Secrets.hash(input.token))
        let (org, site, door, timeZone, holidays) = try await Self.transaction(db, logger) {
            conn -> (String, String, String, String, [String]) in
            var found: (String, String, String?, Date, Date?, String?)?
            for try await row in try await conn.query(
                """
                SELECT org_id, site_id, door_id, expires_at, used_at, used_by_device FROM enrollment_tokens
                WHERE hash = \(tokenHash) FOR UPDATE
                """,
                logger: logger
            ) { found = try row.decode((String, String, String?, Date, Date?, String?).self) }
            guard let (org, site, tokenDoor, expires, usedAt, usedBy) = found else {
                throw Problem(
                    .unauthorized,
                    "the enrollment token is unknown; ask a manager for a new one",
                    field: "token"
                )
            }
            if let usedAt {
                throw Problem(
                    .unauthorized,
                    "the enrollment token was already used (by \(usedBy ?? "a board") at \(APIJSON.formatDate(usedAt))); ask a manager for a new one",
                    field: "token"
                )
            }
            guard expires > now else {
                throw Problem(
                    .unauthorized,
                    "the enrollment token expired at \(APIJSON.formatDate(expires)); ask a manager for a new one",
                    field: "token"
                )
            }
            if let tokenDoor, let asked = input.door, asked != tokenDoor {
                throw Problem.invalid("door", "the enrollment token is for door '\(tokenDoor)', not '\(asked)'")
            }
            guard let door = tokenDoor ?? input.door else {
                throw Problem.invalid("door", "the enrollment token names no door: give the door (--door)")
            }
            var siteRow: (String, [String])?
            for try await row in try await conn.query(
                """
                SELECT s.time_zone, s.holidays::text[] FROM doors d JOIN sites s ON s.org_id = d.org_id AND s.id = d.site_id
                WHERE d.org_id = \(org) AND d.id = \(door) AND d.site_id = \(site)
                """,
                logger: logger
            ) { siteRow = try row.decode((String, [String]).self) }
            guard let (tz, days) = siteRow else {
                throw Problem.invalid("door", "no door '\(door)' on the token's site '\(site)'")
            }
            try await conn.query(
                """
                UPDATE enrollment_tokens SET used_at = \(now), used_by_device = \(device) WHERE hash = \(tokenHash);
                """,
                logger: logger
            )
            try await conn.query(
                "INSERT INTO devices(org_id, id, door_id, board) VALUES (\(org), \(device), \(door), \(input.board))",
                logger: logger
            )
            try await conn.query(
                """
                INSERT INTO device_certificates(serial, org_id, device_id, public_key, not_after)
                VALUES (\(serial), \(org), \(device), \(ByteBuffer(bytes: Array(tlsKey.x963Representation))),
                    \(certificate.notValidAfter))
                """,
                logger: logger
            )
            return (org, site, door, tz, days)
        }
        logger.notice(
            "board provisioned",
            metadata: [
                "org": "\(org)", "site": "\(site)", "door": "\(door)", "device": "\(device)", "serial": "\(serial)",
                "board": "\(input.board)",
            ]
        )
        return BoardProvisioning.Provisioned(
            device: device,
            org: org,
            site: site,
            door: door,
            certificate: try Self.pem(certificate),
            certificateNotAfter: certificate.notValidAfter,
            deviceCa: try Self.pem(ca.certificate),
            broker: settings.broker,
            brokerCa: brokerCA,
            lockCertificate: Data(lockCert.bytes).base64EncodedString(),
            authorityKeys: [
                .init(kid: authority.issuer.keyID, publicKey: authority.issuer.privateKey.publicKey.pemRepresentation)
            ],
            timeZone: timeZone,
            holidays: holidays
        )
    }

    /// A transaction whose refusal reaches the caller as itself (a `Problem` naming the check), not wrapped.
    static func transaction<T: Sendable>(
        _ db: PostgresClient,
        _ logger: Logger,
        _ body: nonisolated(nonsending) (PostgresConnection) async throws -> sending T
    ) async throws -> sending T {
        do { return try await db.withTransaction(logger: logger, body) } catch let e as PostgresTransactionError {
            throw e.closureError ?? e
        }
    }

    static func pem(_ c: Certificate) throws(CloudError) -> String {
        do { return try c.serializeAsPEM().pemString } catch {
            throw CloudError(.invalid, "encoding a certificate failed: \(error)")
        }
    }

    // MARK: deprovision and revocation

    /// The board says goodbye, signed with its broker key: every certificate of the device is revoked and the
    /// device decommissioned. A replay within the five minutes finds nothing left to revoke.
    public func deprovision(
        _ input: BoardProvisioning.DeprovisionInput,
        now: Date
    ) async throws
        -> BoardProvisioning.Deprovisioned
    {
        guard BoardProvisioning.isProvisionedID(input.device) else {
            throw Problem.invalid("device", "'\(input.device.prefix(80))' is not a provisioned device id")
        }
        guard abs(Double(input.at) - now.timeIntervalSince1970) <= 300 else {
            throw Problem(
                .unauthorized,
                "the request's time is more than 5 minutes from the cloud's (\(APIJSON.formatDate(now))): set the board's clock",
                field: "at"
            )
        }
        guard let sigBytes = Data(base64Encoded: input.signature),
            let signature = try? P256.Signing.ECDSASignature(derRepresentation: sigBytes)
        else { throw Problem.invalid("signature", "must be an ECDSA signature, DER, base64") }
        var org: String?
        for try await row in try await db.query(
            "SELECT org_id, public_key FROM device_certificates WHERE device_id = \(input.device) AND revoked_at IS NULL",
            logger: logger
        ) {
            let (o, raw) = try row.decode((String, ByteBuffer).self)
            if let key = try? P256.Signing.PublicKey(x963Representation: Array(buffer: raw)),
                key.isValidSignature(
                    signature,
                    for: BoardProvisioning.deprovisionMessage(device: input.device, at: input.at)
                )
            {
                org = o
            }
        }
        guard let org else {
            throw Problem(
                .unauthorized,
                "no active certificate of '\(input.device)' verifies this signature (already deprovisioned?)",
                field: "signature"
            )
        }
        let n = try await revoke(org: org, device: input.device, now: now)
        return BoardProvisioning.Deprovisioned(device: input.device, revokedCertificates: n)
    }

    // MARK: renewal over MQTT

    /// The public keys of the device's unrevoked certificates (serial, key), newest first.
    func activeKeys(org: String, device: String) async throws -> [(serial: String, key: P256.Signing.PublicKey)] {
        var out: [(String, P256.Signing.PublicKey)] = []
        for try await row in try await db.query(
            """
            SELECT c.serial, c.public_key FROM device_certificates c JOIN devices d ON d.org_id = c.org_id AND d.id = c.device_id
            WHERE c.org_id = \(org) AND c.device_id = \(device) AND c.revoked_at IS NULL AND d.decommissioned_at IS NULL
            ORDER BY c.created_at DESC
            """,
            logger: logger
        ) {
            let (serial, raw) = try row.decode((String, ByteBuffer).self)
            if let key = try? P256.Signing.PublicKey(x963Representation: Array(buffer: raw)) {
                out.append((serial, key))
            }
        }
        return out
    }

    /// A board's `cert/request`: signed by the key of one of its unrevoked certificates (the broker authenticated
    /// the connection too, but the cloud trusts no relay), at most an hour old (its message expiry).
    public func renew(
        org: String,
        device: String,
        request: CertificateRenewal.Request,
        now: Date
    ) async throws
        -> CertificateRenewal.Issued
    {
        guard abs(Double(request.at) - now.timeIntervalSince1970) <= 3600 else {
            throw CloudError(.invalid, "certificate request from \(device) is more than an hour from the cloud's clock")
        }
        let newKey = try DeviceCA.publicKey(ofCSR: request.csr)
        guard let sigBytes = Data(base64Encoded: request.sig),
            let sig = try? P256.Signing.ECDSASignature(derRepresentation: sigBytes)
        else { throw CloudError(.invalid, "certificate request from \(device): sig is not a DER signature") }
        let message = CertificateRenewal.requestMessage(device: device, at: request.at, csr: request.csr)
        let keys = try await activeKeys(org: org, device: device)
        guard let signer = keys.first(where: { $0.key.isValidSignature(sig, for: message) }) else {
            throw CloudError(
                .invalid,
                "certificate request from \(device) is not signed by a current certificate's key"
            )
        }
        // A retry (its answer was lost) asks again for the same new key, signed by the old one: issued again.
        guard signer.key.rawRepresentation != newKey.rawRepresentation else {
            throw CloudError(
                .invalid,
                "certificate request from \(device) is for the key that signs it; renewal needs a new one"
            )
        }
        let certificate = try ca.issue(deviceID: device, key: newKey, now: now, lifetime: settings.certificateLifetime)
        let serial = DeviceCA.serialHex(certificate)
        try await db.query(
            """
            INSERT INTO device_certificates(serial, org_id, device_id, public_key, not_after)
            VALUES (\(serial), \(org), \(device), \(ByteBuffer(bytes: Array(newKey.x963Representation))),
                \(certificate.notValidAfter))
            """,
            logger: logger
        )
        logger.notice(
            "device certificate renewed",
            metadata: ["org": "\(org)", "device": "\(device)", "serial": "\(serial)"]
        )
        return CertificateRenewal.Issued(certificate: try Self.pem(certificate), serial: serial)
    }

    /// The board runs on its renewed certificate (signed by its new key): its older certificates are revoked.
    public func installed(org: String, device: String, notice: CertificateRenewal.Installed, now: Date) async throws {
        guard let sigBytes = Data(base64Encoded: notice.sig),
            let sig = try? P256.Signing.ECDSASignature(derRepresentation: sigBytes),
            let new = try await activeKeys(org: org, device: device).first(where: { $0.serial == notice.serial }),
            new.key.isValidSignature(
                sig,
                for: CertificateRenewal.installedMessage(device: device, serial: notice.serial, at: notice.at)
            )
        else { throw CloudError(.invalid, "certificate-installed notice from \(device) does not verify") }
        var n = 0
        for try await _ in try await db.query(
            """
            UPDATE device_certificates SET revoked_at = \(now)
            WHERE org_id = \(org) AND device_id = \(device) AND revoked_at IS NULL AND serial <> \(notice.serial)
            RETURNING serial
            """,
            logger: logger
        ) { n += 1 }
        if n > 0 { try await writeRevocationList(now: now) }
        logger.notice(
            "board switched to its renewed certificate; older ones revoked",
            metadata: ["org": "\(org)", "device": "\(device)", "serial": "\(notice.serial)", "revoked": "\(n)"]
        )
    }

    /// Revokes every certificate of the device, decommissions it, and rewrites the revocation list.
    @discardableResult
    public func revoke(org: String, device: String, now: Date) async throws -> Int {
        let n = try await Self.revokeInDatabase(db, org: org, device: device, now: now, logger: logger)
        try await writeRevocationList(now: now)
        logger.notice(
            "device certificates revoked",
            metadata: ["org": "\(org)", "device": "\(device)", "count": "\(n)"]
        )
        return n
    }

    /// The database half of a revocation (also what decommission does when no device CA is configured here).
    static func revokeInDatabase(
        _ db: PostgresClient,
        org: String,
        device: String,
        now: Date,
        logger: Logger
    )
        async throws -> Int
    {
        try await transaction(db, logger) { conn in
            var n = 0
            for try await _ in try await conn.query(
                """
                UPDATE device_certificates SET revoked_at = \(now)
                WHERE org_id = \(org) AND device_id = \(device) AND revoked_at IS NULL RETURNING serial
                """,
                logger: logger
            ) { n += 1 }
            try await conn.query(
                "UPDATE devices SET decommissioned_at = coalesce(decommissioned_at, \(now)) WHERE org_id = \(org) AND id = \(device)",
                logger: logger
            )
            return n
        }
    }

    /// Writes the CRL for mosquitto (`provisioning.crl`), listing every revoked certificate that has not expired.
    public func writeRevocationList(now: Date) async throws {
        guard let path = settings.crlFile else { return }
        var revoked: [(serial: [UInt8], at: Date)] = []
        for try await row in try await db.query(
            "SELECT serial, revoked_at FROM device_certificates WHERE revoked_at IS NOT NULL AND not_after > \(now) ORDER BY serial",
            logger: logger
        ) {
            let (serial, at) = try row.decode((String, Date).self)
            revoked.append((Self.bytes(hex: serial), at))
        }
        var number: Int64 = 0
        for try await row in try await db.query("SELECT nextval('crl_number')", logger: logger) {
            number = try row.decode(Int64.self)
        }
        let pem = try ca.revocationList(revoked: revoked, number: number, now: now)
        try CloudFiles.write(pem, to: path, mode: 0o644)
        logger.info(
            "revocation list written",
            metadata: ["path": "\(path)", "revoked": "\(revoked.count)", "number": "\(number)"]
        )
    }

    static func bytes(hex: String) -> [UInt8] {
        var out: [UInt8] = []
        var i = hex.startIndex
        while i < hex.endIndex, let j = hex.index(i, offsetBy: 2, limitedBy: hex.endIndex) {
            out.append(UInt8(hex[i..<j], radix: 16) ?? 0)
            i = j
        }
        return out
    }
}
