import Crypto
import Foundation
import OpenSSLX509
import POSIXIO
import WardenWire

/// The board's side of broker-certificate renewal (`CertificateRenewal`): when to ask, the new key and CSR, and
/// switching the key and certificate files so that a power cut at any point leaves a pair that belongs together:
/// both new files are written as `.next` first, then renamed key first; `recover()` finishes a switch a crash
/// interrupted (or drops a half-written one) before the MQTT client reads the files.
struct CertificateRenewer {
    let device: String
    let certFile: String
    let keyFile: String
    let renewBefore: TimeInterval?
    private(set) var current: PEMCertificate
    private var pending: (key: P256.Signing.PrivateKey, sentAt: Date)?
    private var lastInstalled: Date?
    /// A renewal answer that never comes is asked again after this long.
    static let retryAfter: TimeInterval = 300
    /// However early renewal is configured, at most one per this long.
    static let minimumInterval: TimeInterval = 3600

    struct Failure: Error, CustomStringConvertible { var description: String }

    init(
        device: String,
        certFile: String,
        keyFile: String,
        renewBefore: TimeInterval?,
        lastInstalled: Date? = nil
    ) throws {
        Self.recover(certFile: certFile, keyFile: keyFile)
        guard let pem = try? String(contentsOfFile: certFile, encoding: .utf8),
            let cert = try? PEMCertificate(pemEncoded: pem)
        else { throw Failure(description: "\(certFile) is not a PEM certificate") }
        self.device = device
        self.certFile = certFile
        self.keyFile = keyFile
        self.renewBefore = renewBefore
        self.lastInstalled = lastInstalled
        self.current = cert
    }

    var serial: String { current.serialHex }

    /// A request to send now, or nil: not due, one is in flight, or one was installed within the hour.
    mutating func requestIfDue(now: Date) throws -> CertificateRenewal.Request? {
        guard
            CertificateRenewal.isDue(
                notBefore: current.notValidBefore,
                notAfter: current.notValidAfter,
                now: now,
                renewBefore: renewBefore
            )
        else { return nil }
        if let lastInstalled, now.timeIntervalSince(lastInstalled) < Self.minimumInterval { return nil }
        if let pending, now.timeIntervalSince(pending.sentAt) < Self.retryAfter { return nil }
        guard let pem = try? String(contentsOfFile: keyFile, encoding: .utf8),
            let currentKey = try? P256.Signing.PrivateKey(pemRepresentation: pem)
        else { throw Failure(description: "cannot read the broker key \(keyFile)") }
        let key = pending?.key ?? P256.Signing.PrivateKey()
        let csr: String
        do { csr = try CertificateRequest.pem(commonName: device, privateKeyDER: Array(key.derRepresentation)) } catch {
            throw Failure(description: "cannot write the renewal request: \(error)")
        }
        let at = Int64(now.timeIntervalSince1970)
        let sig = try currentKey.signature(for: CertificateRenewal.requestMessage(device: device, at: at, csr: csr))
        pending = (key, now)
        return CertificateRenewal.Request(csr: csr, at: at, sig: sig.derRepresentation.base64EncodedString())
    }

    /// Checks the cloud's answer against the request in flight and switches the files; returns the notice to send
    /// once reconnected with it.
    mutating func install(_ issued: CertificateRenewal.Issued, now: Date) throws -> CertificateRenewal.Installed {
        guard let key = pending?.key else {
            throw Failure(description: "a certificate arrived with no renewal in flight")
        }
        guard let cert = try? PEMCertificate(pemEncoded: issued.certificate) else {
            throw Failure(description: "the renewed certificate is not a PEM certificate")
        }
        guard cert.publicKeyDER == Array(key.publicKey.derRepresentation) else {
            throw Failure(description: "the renewed certificate is for another key than the one this board asked for")
        }
        guard cert.subjectDER == current.subjectDER, cert.issuerDER == current.issuerDER else {
            throw Failure(
                description: "the renewed certificate names \(cert.subject) from \(cert.issuer), not this board"
            )
        }
        guard cert.notValidAfter > current.notValidAfter, cert.notValidBefore <= now.addingTimeInterval(300) else {
            throw Failure(description: "the renewed certificate is not valid from now to past the current one")
        }
        try Self.write(key.pemRepresentation, to: keyFile + ".next", mode: 0o600)
        try Self.write(issued.certificate, to: certFile + ".next", mode: 0o644)
        Self.recover(certFile: certFile, keyFile: keyFile)
        current = cert
        pending = nil
        lastInstalled = now
        let at = Int64(now.timeIntervalSince1970)
        let serial = cert.serialHex
        let sig = try key.signature(for: CertificateRenewal.installedMessage(device: device, serial: serial, at: at))
        return CertificateRenewal.Installed(serial: serial, at: at, sig: sig.derRepresentation.base64EncodedString())
    }

    /// Finishes an interrupted switch: `cert.next` present means both new files were complete (it is written second).
    static func recover(certFile: String, keyFile: String) {
        let fm = FileManager.default
        let (certNext, keyNext) = (certFile + ".next", keyFile + ".next")
        if fm.fileExists(atPath: certNext) {
            if fm.fileExists(atPath: keyNext) { rename(keyNext, keyFile) }
            rename(certNext, certFile)
        } else if fm.fileExists(atPath: keyNext) {
            unlink(keyNext)
        }
    }

    static func write(_ text: String, to path: String, mode: mode_t) throws {
        do { try AtomicFile.write(Array(text.utf8), to: path, mode: mode) } catch {
            throw Failure(description: error.description)
        }
    }
}
