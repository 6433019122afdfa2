import COpenSSL
import Foundation

/// The facts wardend needs from its broker certificate (validity, serial, names, key), read by OpenSSL. The board
/// reads certificates with the libcrypto libmosquitto already loads instead of linking swift-certificates, which cost
/// wardend about 1 MB of resident memory (docs/benchmarks.md); the cloud, which issues them, keeps swift-certificates.
public struct PEMCertificate: Sendable, Equatable {
    public let notValidBefore: Date
    public let notValidAfter: Date
    /// The serial number's bytes in lowercase hex, as the cloud writes it.
    public let serialHex: String
    /// DER of the subject and issuer names: compared byte for byte.
    public let subjectDER: [UInt8]
    public let issuerDER: [UInt8]
    /// Readable forms for messages (OpenSSL's one-line form, `/CN=lock-...`).
    public let subject: String
    public let issuer: String
    /// DER SubjectPublicKeyInfo, comparable with swift-crypto's `derRepresentation` of a public key.
    public let publicKeyDER: [UInt8]

    public init(pemEncoded pem: String) throws(OpenSSLError) {
        let parsed: Parsed = try MemoryBIO.reading(pem) { bio throws(OpenSSLError) in
            guard let x509 = PEM_read_bio_X509(bio, nil, nil, nil) else {
                throw OpenSSLError("not a PEM certificate")
            }
            defer { X509_free(x509) }
            return try Parsed(x509)
        }
        (notValidBefore, notValidAfter, serialHex) = (parsed.notBefore, parsed.notAfter, parsed.serial)
        (subjectDER, issuerDER, subject, issuer) = (parsed.subjectDER, parsed.issuerDER, parsed.subject, parsed.issuer)
        publicKeyDER = parsed.key
    }

    private struct Parsed {
        var notBefore: Date, notAfter: Date, serial: String
        var subjectDER: [UInt8], issuerDER: [UInt8], subject: String, issuer: String, key: [UInt8]

        init(_ x509: OpaquePointer) throws(OpenSSLError) {
            guard let nb = X509_get0_notBefore(x509).flatMap(Self.date),
                let na = X509_get0_notAfter(x509).flatMap(Self.date)
            else { throw OpenSSLError("the certificate's validity cannot be read") }
            guard let serialNumber = X509_get0_serialNumber(x509), let data = ASN1_STRING_get0_data(serialNumber) else {
                throw OpenSSLError("the certificate has no serial number")
            }
            let serialBytes = UnsafeBufferPointer(start: data, count: Int(ASN1_STRING_length(serialNumber)))
            guard let subjectName = X509_get_subject_name(x509), let issuerName = X509_get_issuer_name(x509),
                let publicKey = X509_get0_pubkey(x509)
            else { throw OpenSSLError("the certificate has no subject, issuer or key") }
            notBefore = nb
            notAfter = na
            serial = serialBytes.map { String(format: "%02x", $0) }.joined()
            subjectDER = MemoryBIO.der { i2d_X509_NAME(subjectName, $0) }
            issuerDER = MemoryBIO.der { i2d_X509_NAME(issuerName, $0) }
            subject = Self.oneLine(subjectName)
            issuer = Self.oneLine(issuerName)
            key = MemoryBIO.der { i2d_PUBKEY(publicKey, $0) }
            guard !subjectDER.isEmpty, !issuerDER.isEmpty, !key.isEmpty else {
                throw OpenSSLError("the certificate's names or key cannot be encoded")
            }
        }

        static func date(_ time: UnsafePointer<ASN1_TIME>) -> Date? {
            var t = tm()
            guard ASN1_TIME_to_tm(time, &t) == 1 else { return nil }
            return Date(timeIntervalSince1970: TimeInterval(timegm(&t)))
        }

        static func oneLine(_ name: OpaquePointer) -> String {
            var buffer = [CChar](repeating: 0, count: 512)
            guard X509_NAME_oneline(name, &buffer, Int32(buffer.count)) != nil else { return "?" }
            return MemoryBIO.string(buffer)
        }
    }
}
