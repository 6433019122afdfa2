import Foundation

/// Renewing a board's broker certificate over its own MQTT link, without a visit (docs/provisioning.md, decision 6;
/// docs/mqtt.md): the board sends a CSR for a new key on `cert/request`, signed with its current key; the cloud
/// answers the certificate on `cert`; the board switches to it, reconnects, and reports on `cert/installed`, signed
/// with the new key, after which the cloud revokes the old certificate. The door never waits for any of it.
public enum CertificateRenewal {
    /// `cert/request`, board to cloud.
    public struct Request: Codable, Sendable, Equatable {
        /// PKCS#10 (PEM) for the new key.
        public var csr: String
        /// Unix seconds.
        public var at: Int64
        /// ECDSA-SHA256 (DER, base64) by the current broker key over `requestMessage`.
        public var sig: String

        public init(csr: String, at: Int64, sig: String) {
            self.csr = csr
            self.at = at
            self.sig = sig
        }
    }

    /// `cert`, cloud to board.
    public struct Issued: Codable, Sendable, Equatable {
        public var certificate: String
        public var serial: String

        public init(certificate: String, serial: String) {
            self.certificate = certificate
            self.serial = serial
        }
    }

    /// `cert/installed`, board to cloud, once connected with the new certificate.
    public struct Installed: Codable, Sendable, Equatable {
        public var serial: String
        public var at: Int64
        /// By the new key over `installedMessage`.
        public var sig: String

        public init(serial: String, at: Int64, sig: String) {
            self.serial = serial
            self.at = at
            self.sig = sig
        }
    }

    public static func requestMessage(device: String, at: Int64, csr: String) -> [UInt8] {
        Array("warden-cert-request-v1\n\(device)\n\(at)\n\(csr)".utf8)
    }

    public static func installedMessage(device: String, serial: String, at: Int64) -> [UInt8] {
        Array("warden-cert-installed-v1\n\(device)\n\(serial)\n\(at)".utf8)
    }

    /// Renewal is due once a third of the certificate's life remains, or `renewBefore` seconds before it ends when
    /// the board's config says so (docs/operations.md).
    public static func isDue(notBefore: Date, notAfter: Date, now: Date, renewBefore: TimeInterval? = nil) -> Bool {
        let margin = renewBefore ?? notAfter.timeIntervalSince(notBefore) / 3
        return now >= notAfter.addingTimeInterval(-margin)
    }
}
