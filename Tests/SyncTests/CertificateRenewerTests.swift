import Crypto
import Foundation
import SwiftASN1
import Testing
import WardenCloud
import WardenWire
import X509

@testable import WardenSync

/// The board's side of broker-certificate renewal, fed with values and real files: when it asks, what it signs,
/// what it refuses to install, and that an interrupted switch never leaves a key and a certificate that do not
/// belong together. (End to end over the real broker: scripts/provision_e2e.py.)
@Suite struct CertificateRenewerTests {
    let dir: URL
    let ca: DeviceCA
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)
    var certFile: String { dir.appendingPathComponent("broker.pem").path }
    var keyFile: String { dir.appendingPathComponent("broker.key").path }

    init() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("renewer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        ca = try DeviceCA.create(name: "Renewal test CA", now: t0)
    }

    func pem(_ c: Certificate) throws -> String { try c.serializeAsPEM().pemString }

    func provisioned(_ device: String = "lock-00112233445566778899") throws -> P256.Signing.PrivateKey {
        let key = P256.Signing.PrivateKey()
        try CertificateRenewer.write(key.pemRepresentation, to: keyFile, mode: 0o600)
        try CertificateRenewer.write(
            try pem(try ca.issue(deviceID: device, key: key.publicKey, now: t0)),
            to: certFile,
            mode: 0o644
        )
        return key
    }

    @Test func renewalIsDueWithAThirdOfTheLifeLeftOrWhenConfigured() {
        let (nb, na) = (t0, t0.addingTimeInterval(90 * 86_400))
        #expect(!CertificateRenewal.isDue(notBefore: nb, notAfter: na, now: t0.addingTimeInterval(59 * 86_400)))
        #expect(CertificateRenewal.isDue(notBefore: nb, notAfter: na, now: t0.addingTimeInterval(60 * 86_400)))
        #expect(CertificateRenewal.isDue(notBefore: nb, notAfter: na, now: na.addingTimeInterval(1)))
        #expect(!CertificateRenewal.isDue(notBefore: nb, notAfter: na, now: t0, renewBefore: 7 * 86_400))
        #expect(
            CertificateRenewal.isDue(
                notBefore: nb,
                notAfter: na,
                now: na.addingTimeInterval(-7 * 86_400),
                renewBefore: 7 * 86_400
            )
        )
    }

    @Test func aRenewalAsksSignedSwitchesKeyAndCertificateTogetherAndRefusesWhatItDidNotAskFor() throws {
        let device = "lock-00112233445566778899"
        let oldKey = try provisioned(device)
        var r = try CertificateRenewer(device: device, certFile: certFile, keyFile: keyFile, renewBefore: nil)
        #expect(try r.requestIfDue(now: t0.addingTimeInterval(86_400)) == nil, "not due on day 1")

        let due = t0.addingTimeInterval(61 * 86_400)
        let request = try #require(try r.requestIfDue(now: due))
        let csrKey = try DeviceCA.publicKey(ofCSR: request.csr)
        #expect(csrKey.rawRepresentation != oldKey.publicKey.rawRepresentation, "a new key")
        let sig = try P256.Signing.ECDSASignature(derRepresentation: try #require(Data(base64Encoded: request.sig)))
        #expect(
            oldKey.publicKey.isValidSignature(
                sig,
                for: CertificateRenewal.requestMessage(device: device, at: request.at, csr: request.csr)
            ),
            "signed by the current key"
        )
        #expect(try r.requestIfDue(now: due.addingTimeInterval(10)) == nil, "one request in flight")
        let retry = try #require(try r.requestIfDue(now: due.addingTimeInterval(301)), "asked again after 5 minutes")
        #expect(try DeviceCA.publicKey(ofCSR: retry.csr).rawRepresentation == csrKey.rawRepresentation, "same new key")

        let before = (
            try String(contentsOfFile: keyFile, encoding: .utf8), try String(contentsOfFile: certFile, encoding: .utf8)
        )
        let forAnotherKey = try ca.issue(deviceID: device, key: P256.Signing.PrivateKey().publicKey, now: due)
        let forAnotherBoard = try ca.issue(deviceID: "lock-99999999999999999999", key: csrKey, now: due)
        let otherCA = try DeviceCA.create(name: "Another CA", now: t0)
        let fromAnotherCA = try otherCA.issue(deviceID: device, key: csrKey, now: due)
        for (what, cert) in [
            ("another key", forAnotherKey), ("another board", forAnotherBoard), ("another CA", fromAnotherCA),
        ] {
            #expect(throws: CertificateRenewer.Failure.self, "\(what)") {
                try r.install(.init(certificate: try pem(cert), serial: DeviceCA.serialHex(cert)), now: due)
            }
        }
        #expect(try String(contentsOfFile: keyFile, encoding: .utf8) == before.0, "nothing switched")
        #expect(try String(contentsOfFile: certFile, encoding: .utf8) == before.1)

        let renewed = try ca.issue(deviceID: device, key: csrKey, now: due)
        let notice = try r.install(.init(certificate: try pem(renewed), serial: DeviceCA.serialHex(renewed)), now: due)
        let newKey = try P256.Signing.PrivateKey(
            pemRepresentation: try String(contentsOfFile: keyFile, encoding: .utf8)
        )
        #expect(newKey.publicKey.rawRepresentation == csrKey.rawRepresentation)
        #expect(try Certificate(pemEncoded: try String(contentsOfFile: certFile, encoding: .utf8)) == renewed)
        let mode = try FileManager.default.attributesOfItem(atPath: keyFile)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let noticeSig = try P256.Signing.ECDSASignature(
            derRepresentation: try #require(Data(base64Encoded: notice.sig))
        )
        #expect(notice.serial == DeviceCA.serialHex(renewed))
        #expect(
            newKey.publicKey.isValidSignature(
                noticeSig,
                for: CertificateRenewal.installedMessage(device: device, serial: notice.serial, at: notice.at)
            )
        )
        // However early renewal is configured, not again within the hour.
        var eager = try CertificateRenewer(
            device: device,
            certFile: certFile,
            keyFile: keyFile,
            renewBefore: 10 * 365 * 86_400,
            lastInstalled: due
        )
        #expect(try eager.requestIfDue(now: due.addingTimeInterval(600)) == nil)
        #expect(try eager.requestIfDue(now: due.addingTimeInterval(3601)) != nil)
        #expect(throws: CertificateRenewer.Failure.self, "a second answer finds no request in flight") {
            try r.install(.init(certificate: try pem(renewed), serial: notice.serial), now: due)
        }
    }

    @Test func anInterruptedSwitchIsFinishedOrDroppedNeverHalfDone() throws {
        for state in ["both next files", "key renamed, certificate not", "only the key written"] {
            let oldKey = try provisioned()
            let newKey = P256.Signing.PrivateKey()
            let newCert = try pem(try ca.issue(deviceID: "lock-00112233445566778899", key: newKey.publicKey, now: t0))
            switch state {
            case "both next files":
                try CertificateRenewer.write(newKey.pemRepresentation, to: keyFile + ".next", mode: 0o600)
                try CertificateRenewer.write(newCert, to: certFile + ".next", mode: 0o644)
            case "key renamed, certificate not":
                try CertificateRenewer.write(newKey.pemRepresentation, to: keyFile, mode: 0o600)
                try CertificateRenewer.write(newCert, to: certFile + ".next", mode: 0o644)
            default:
                try CertificateRenewer.write(newKey.pemRepresentation, to: keyFile + ".next", mode: 0o600)
            }
            CertificateRenewer.recover(certFile: certFile, keyFile: keyFile)
            let key = try P256.Signing.PrivateKey(
                pemRepresentation: try String(contentsOfFile: keyFile, encoding: .utf8)
            )
            let cert = try Certificate(pemEncoded: try String(contentsOfFile: certFile, encoding: .utf8))
            #expect(
                cert.publicKey == Certificate.PublicKey(key.publicKey),
                "\(state): key and certificate belong together"
            )
            let expected = state == "only the key written" ? oldKey : newKey
            #expect(key.rawRepresentation == expected.rawRepresentation, "\(state)")
            #expect(!FileManager.default.fileExists(atPath: keyFile + ".next"), "\(state)")
            #expect(!FileManager.default.fileExists(atPath: certFile + ".next"), "\(state)")
        }
    }
}
