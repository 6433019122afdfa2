import Crypto
import Foundation
import SwiftASN1
import X509

/// The device CA (docs/provisioning.md): it names each board in a certificate whose subject is the device id, which
/// the broker takes as the MQTT user name (`use_identity_as_username`), so one ACL pattern file serves every board.
/// It signs only CSRs whose subject the cloud chose, and its key never leaves the cloud's host.
public struct DeviceCA: Sendable {
    public let certificate: Certificate
    let key: P256.Signing.PrivateKey

    /// How long a device certificate lives; boards renew at two thirds of it (docs/provisioning.md, rotation).
    public static let defaultLifetime: Duration = .seconds(90 * 86_400)

    public init(certificate: Certificate, key: P256.Signing.PrivateKey) throws(CloudError) {
        guard certificate.publicKey == Certificate.PublicKey(key.publicKey) else {
            throw CloudError(
                .config,
                "the device CA certificate is not for the device CA key: give the pair made together"
            )
        }
        self.certificate = certificate
        self.key = key
    }

    /// Reads the PEM pair, refusing a key file others can read (it can mint a broker identity for any board).
    public static func load(keyFile: String, certFile: String) throws(CloudError) -> DeviceCA {
        let pem = try CloudFiles.readSecret(keyFile, what: "device CA key")
        guard let key = try? P256.Signing.PrivateKey(pemRepresentation: pem) else {
            throw CloudError(.config, "device CA key \(keyFile) is not a P-256 private key in PEM form")
        }
        guard let text = try? String(contentsOfFile: certFile, encoding: .utf8) else {
            throw CloudError(.config, "device CA certificate: cannot read \(certFile)")
        }
        guard let cert = try? Certificate(pemEncoded: text) else {
            throw CloudError(.config, "device CA certificate \(certFile) is not a PEM certificate")
        }
        return try DeviceCA(certificate: cert, key: key)
    }

    /// A new self-signed device CA (the demo, tests and small on-premises installs; production signs an intermediate
    /// under the operator's offline root: docs/operations.md).
    public static func create(name: String, now: Date, years: Int = 10) throws(CloudError) -> DeviceCA {
        let key = P256.Signing.PrivateKey()
        do {
            let subject = try DistinguishedName { CommonName(name) }
            let cert = try Certificate(
                version: .v3,
                serialNumber: .init(),
                publicKey: .init(key.publicKey),
                notValidBefore: now.addingTimeInterval(-300),
                notValidAfter: now.addingTimeInterval(Double(years) * 365.25 * 86_400),
                issuer: subject,
                subject: subject,
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                    Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                    SubjectKeyIdentifier(hash: .init(key.publicKey))
                },
                issuerPrivateKey: .init(key)
            )
            return try DeviceCA(certificate: cert, key: key)
        } catch let e as CloudError {
            throw e
        } catch {
            throw CloudError(.invalid, "making the device CA failed: \(error)")
        }
    }

    /// Checks a board's CSR (PEM, P-256, signed by the key it carries: proof of possession) and returns its key.
    /// The CSR's own subject is ignored: the cloud names the device.
    public static func publicKey(ofCSR pem: String) throws(CloudError) -> P256.Signing.PublicKey {
        guard pem.utf8.count <= 8192, let csr = try? CertificateSigningRequest(pemEncoded: pem) else {
            throw CloudError(.invalid, "csr: not a PEM certificate signing request (PKCS#10)")
        }
        guard let key = P256.Signing.PublicKey(csr.publicKey) else {
            throw CloudError(.invalid, "csr: the key is not P-256; make the device key with `wardenctl provision`")
        }
        guard csr.publicKey.isValidSignature(csr.signature, for: csr) else {
            throw CloudError(.invalid, "csr: the signature does not verify with the key it carries")
        }
        return key
    }

    /// A device certificate: subject CN = device id, client authentication only, a random 128-bit serial.
    public func issue(
        deviceID: String,
        key: P256.Signing.PublicKey,
        now: Date,
        lifetime: Duration = defaultLifetime
    ) throws(CloudError) -> Certificate {
        do {
            var serial = [UInt8](repeating: 0, count: 16)
            for i in serial.indices { serial[i] = .random(in: 0...255) }
            serial[0] &= 0x7F  // a positive INTEGER
            serial[0] |= 0x40  // and 16 bytes long
            return try Certificate(
                version: .v3,
                serialNumber: .init(bytes: serial),
                publicKey: .init(key),
                notValidBefore: now.addingTimeInterval(-300),
                notValidAfter: now.addingTimeInterval(Double(lifetime.components.seconds)),
                issuer: certificate.subject,
                subject: try DistinguishedName { CommonName(deviceID) },
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.notCertificateAuthority)
                    Critical(KeyUsage(digitalSignature: true))
                    try ExtendedKeyUsage([.clientAuth])
                    SubjectKeyIdentifier(hash: .init(key))
                    AuthorityKeyIdentifier(keyIdentifier: authorityKeyID)
                },
                issuerPrivateKey: .init(self.key)
            )
        } catch {
            throw CloudError(.invalid, "issuing the certificate of \(deviceID) failed: \(error)")
        }
    }

    var authorityKeyID: ArraySlice<UInt8> {
        (try? certificate.extensions.subjectKeyIdentifier)??.keyIdentifier
            ?? SubjectKeyIdentifier(hash: .init(key.publicKey)).keyIdentifier
    }

    /// The revocation list mosquitto reads (`crlfile`), PEM. `nextUpdate` bounds how long a broker that missed a
    /// reload still accepts it: OpenSSL refuses every client once a CRL has expired, so the cloud rewrites it daily.
    public func revocationList(
        revoked: [(serial: [UInt8], at: Date)],
        number: Int64,
        now: Date,
        validity: Duration = .seconds(30 * 86_400)
    ) throws(CloudError) -> String {
        do {
            let der = try RevocationList(
                issuer: certificate.subject,
                authorityKeyID: Array(authorityKeyID),
                thisUpdate: now,
                nextUpdate: now.addingTimeInterval(Double(validity.components.seconds)),
                number: number,
                revoked: revoked
            ).signed(with: key)
            return PEMDocument(type: "X509 CRL", derBytes: der).pemString
        } catch {
            throw CloudError(.invalid, "writing the revocation list failed: \(error)")
        }
    }

    public func certificatePEM() throws(CloudError) -> String { try DeviceProvisioner.pem(certificate) }

    /// The key in PEM, for `device-ca-init` to write (0600) once.
    public func keyPEM() -> String { key.pemRepresentation }

    /// The certificate's serial as lower-case hex (how the database and logs name it).
    public static func serialHex(_ cert: Certificate) -> String {
        cert.serialNumber.bytes.map { String(format: "%02x", $0) }.joined()
    }
}
