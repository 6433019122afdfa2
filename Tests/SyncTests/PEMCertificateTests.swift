import Crypto
import Foundation
import OpenSSLX509
import SwiftASN1
import Testing
import WardenCloud
import X509

/// The board reads its certificate and writes renewal requests with OpenSSL; the cloud issues and checks them with
/// swift-certificates. These pin the two readings to each other.
@Suite struct PEMCertificateTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func openSSLReadsWhatTheCloudIssuedAsSwiftCertificatesDoes() throws {
        let ca = try DeviceCA.create(name: "Reading test CA", now: t0)
        for _ in 0..<20 {  // random serials: every leading byte the CA draws
            let key = P256.Signing.PrivateKey()
            let issued = try ca.issue(deviceID: "lock-00112233445566778899", key: key.publicKey, now: t0)
            let read = try PEMCertificate(pemEncoded: try issued.serializeAsPEM().pemString)
            #expect(read.serialHex == DeviceCA.serialHex(issued))
            #expect(read.notValidBefore == issued.notValidBefore)
            #expect(read.notValidAfter == issued.notValidAfter)
            #expect(read.publicKeyDER == Array(key.publicKey.derRepresentation))
            #expect(read.subject == "/CN=lock-00112233445566778899")
            #expect(read.subjectDER != read.issuerDER)
            var subject = DER.Serializer()
            try subject.serialize(issued.subject)
            #expect(read.subjectDER == subject.serializedBytes)
        }
    }

    @Test func aRequestWrittenByOpenSSLPassesTheCloudsCheck() throws {
        let key = P256.Signing.PrivateKey()
        let pem = try CertificateRequest.pem(
            commonName: "lock-aabbccddeeff00112233",
            privateKeyDER: Array(key.derRepresentation)
        )
        #expect(try DeviceCA.publicKey(ofCSR: pem).rawRepresentation == key.publicKey.rawRepresentation)
        let csr = try CertificateSigningRequest(pemEncoded: pem)
        #expect(csr.subject == (try DistinguishedName { CommonName("lock-aabbccddeeff00112233") }))
        #expect(csr.publicKey.isValidSignature(csr.signature, for: csr))
    }

    @Test func badInputIsRefusedWithAReason() {
        for bad in ["", "not a certificate", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"] {
            #expect(throws: OpenSSLError.self, "\(bad.prefix(20))") { try PEMCertificate(pemEncoded: bad) }
        }
        #expect(throws: OpenSSLError.self) { try CertificateRequest.pem(commonName: "x", privateKeyDER: [1, 2, 3]) }
        #expect(throws: OpenSSLError.self) {
            try CertificateRequest.pem(
                commonName: "",
                privateKeyDER: Array(P256.Signing.PrivateKey().derRepresentation)
            )
        }
        do {
            _ = try PEMCertificate(pemEncoded: "not a certificate")
        } catch {
            #expect(error.description.hasPrefix("not a PEM certificate"))
        }
    }
}
