import Foundation

/// The board's provisioning calls (docs/provisioning.md, docs/openapi.yaml `/v1/board/`): what `wardenctl provision`
/// and `deprovision` send and what warden-cloud answers. JSON keys are snake_case (the API's encoder and decoder
/// convert them).
public enum BoardProvisioning {
    /// `POST /v1/board/provision`: what `wardenctl provision` sends (docs/provisioning.md).
    public struct ProvisionInput: Codable, Sendable {
        /// The installer's enrollment token: the only credential of this call, used up by it.
        public var token: String
        /// PKCS#10 (PEM) for the board's broker identity, made and signed on the board.
        public var csr: String
        /// The board's lock key (P-256, X9.63, base64): phones check the lock certificate issued for it.
        public var lockKey: String
        /// ECDSA-SHA256 (DER, base64) by the lock key over `warden-lock-key-proof-v1\n` and the CSR's text.
        public var lockKeyProof: String
        public var board: String
        public var door: String?

        public init(token: String, csr: String, lockKey: String, lockKeyProof: String, board: String, door: String?) {
            self.token = token
            self.csr = csr
            self.lockKey = lockKey
            self.lockKeyProof = lockKeyProof
            self.board = board
            self.door = door
        }
    }

    public struct Provisioned: Codable, Sendable, Equatable {
        public var device: String
        public var org: String
        public var site: String
        public var door: String
        /// The device certificate (PEM): subject CN = device, client authentication only.
        public var certificate: String
        public var certificateNotAfter: Date
        /// The device CA (PEM), for the record: the broker's listener trusts it, not the board.
        public var deviceCa: String
        /// HOST:PORT of the broker's mutual-TLS listener, and the CA its server certificate chains to (PEM).
        public var broker: String
        public var brokerCa: String
        /// The Warden lock certificate (base64) for the lock key, signed by the org authority.
        public var lockCertificate: String
        /// What the board trusts for credentials, access lists, commands and time.
        public var authorityKeys: [AuthorityKey]
        public var timeZone: String
        public var holidays: [String]

        public init(
            device: String,
            org: String,
            site: String,
            door: String,
            certificate: String,
            certificateNotAfter: Date,
            deviceCa: String,
            broker: String,
            brokerCa: String,
            lockCertificate: String,
            authorityKeys: [AuthorityKey],
            timeZone: String,
            holidays: [String]
        ) {
            self.device = device
            self.org = org
            self.site = site
            self.door = door
            self.certificate = certificate
            self.certificateNotAfter = certificateNotAfter
            self.deviceCa = deviceCa
            self.broker = broker
            self.brokerCa = brokerCa
            self.lockCertificate = lockCertificate
            self.authorityKeys = authorityKeys
            self.timeZone = timeZone
            self.holidays = holidays
        }
    }

    public struct AuthorityKey: Codable, Sendable, Equatable {
        public var kid: String
        /// PEM (SubjectPublicKeyInfo, P-256).
        public var publicKey: String
        public init(kid: String, publicKey: String) {
            self.kid = kid
            self.publicKey = publicKey
        }
    }

    /// `POST /v1/board/deprovision`, signed by the board's broker key (the certificate the cloud issued).
    public struct DeprovisionInput: Codable, Sendable {
        public var device: String
        /// Unix seconds; the cloud accepts five minutes either way.
        public var at: Int64
        /// ECDSA-SHA256 (DER, base64) over `warden-deprovision-v1\n<device>\n<at>`.
        public var signature: String

        public init(device: String, at: Int64, signature: String) {
            self.device = device
            self.at = at
            self.signature = signature
        }
    }

    public struct Deprovisioned: Codable, Sendable, Equatable {
        public var device: String
        public var revokedCertificates: Int

        public init(device: String, revokedCertificates: Int) {
            self.device = device
            self.revokedCertificates = revokedCertificates
        }
    }

    /// What the lock key signs in `ProvisionInput.lockKeyProof`.
    public static func lockKeyProofMessage(csr: String) -> [UInt8] { Array("warden-lock-key-proof-v1\n\(csr)".utf8) }

    /// What the broker key signs in `DeprovisionInput.signature`.
    public static func deprovisionMessage(device: String, at: Int64) -> [UInt8] {
        Array("warden-deprovision-v1\n\(device)\n\(at)".utf8)
    }

    /// Device ids the cloud chooses: `lock-` and 20 hex digits. Managers cannot register an id of this shape, so a
    /// certificate's name is never another org's device (the broker's ACL keys on it alone).
    public static func isProvisionedID(_ id: String) -> Bool {
        id.utf8.count == 25 && id.hasPrefix("lock-")
            && id.utf8.dropFirst(5).allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }

    /// Why a board's clock is too far from the cloud's to provision (TLS and certificates would fail later), or nil.
    /// Checked before the token is spent.
    public static func clockProblem(board: Date, cloud: Date?, tolerance: TimeInterval = 300) -> String? {
        guard let cloud, abs(board.timeIntervalSince(cloud)) > tolerance else { return nil }
        let f = ISO8601DateFormatter()
        return
            "this board's clock says \(f.string(from: board)) but the cloud's says \(f.string(from: cloud)): set the clock (timedatectl set-ntp true, or date -s) and run provision again"
    }
}
