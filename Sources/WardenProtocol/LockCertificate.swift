import Crypto
import Foundation

/// The authority's statement "lock `lockID` is the holder of device key K" (binary, ~190 bytes). The lock sends it
/// in LOCK_HELLO; the phone checks it against the org authority keys it trusts, then checks the lock's handshake
/// signature with K. So a phone talks only to a real door of its org, and only to the door it meant.
///
/// Layout (docs/protocol.md): version (1) = 1 | kid length (1) | kid | lock id length (1) | lock id |
/// device public key (65, uncompressed) | not before (8, unix s, BE) | not after (8) | signature (64, r||s) over
/// "warden-lock-cert-v1" || every preceding byte.
public struct LockCertificate: Sendable, Equatable {
    public static let label = Array("warden-lock-cert-v1".utf8)

    public var keyID: String
    public var lockID: String
    public var deviceKey: P256.Signing.PublicKey
    public var notBefore: UInt64
    public var notAfter: UInt64
    public var signature: [UInt8]

    public static func == (a: LockCertificate, b: LockCertificate) -> Bool { a.bytes == b.bytes }

    var body: [UInt8] {
        var b: [UInt8] = [1]
        let kid = Array(keyID.utf8)
        let lock = Array(lockID.utf8)
        b.append(UInt8(kid.count))
        b += kid
        b.append(UInt8(lock.count))
        b += lock
        b += Array(deviceKey.x963Representation)
        b.appendU64(notBefore)
        b.appendU64(notAfter)
        return b
    }

    public var bytes: [UInt8] { body + signature }

    /// Issues a certificate (the cloud's device CA does this at provisioning; `wardenctl dev lock-cert` for tests).
    public static func issue(
        lockID: String,
        deviceKey: P256.Signing.PublicKey,
        notBefore: UInt64,
        notAfter: UInt64,
        keyID: String,
        authority: some MessageSigner
    ) throws -> LockCertificate {
        guard lockID.utf8.count <= 64, keyID.utf8.count <= 64, !lockID.isEmpty, !keyID.isEmpty else {
            throw ProtocolError(.badFrame, "lock id and key id must be 1-64 bytes")
        }
        var c = LockCertificate(
            keyID: keyID,
            lockID: lockID,
            deviceKey: deviceKey,
            notBefore: notBefore,
            notAfter: notAfter,
            signature: []
        )
        c.signature = try authority.sign(label + c.body)
        return c
    }

    public static func parse(_ bytes: [UInt8]) throws(ProtocolError) -> LockCertificate {
        var r = ByteReader(bytes)
        guard try r.u8("certificate version") == 1 else {
            throw ProtocolError(.lockCertificateInvalid, "unknown certificate version")
        }
        let kid = try r.take(Int(try r.u8("kid length")), "kid")
        let lock = try r.take(Int(try r.u8("lock id length")), "lock id")
        let keyBytes = try r.take(65, "device key")
        let nb = try r.u64("not before")
        let na = try r.u64("not after")
        let sig = try r.take(64, "certificate signature")
        try r.end("lock certificate")
        guard let key = try? P256.Signing.PublicKey(x963Representation: keyBytes) else {
            throw ProtocolError(.lockCertificateInvalid, "device key is not a P-256 point")
        }
        guard let kidS = String(validating: kid, as: UTF8.self), let lockS = String(validating: lock, as: UTF8.self)
        else {
            throw ProtocolError(.lockCertificateInvalid, "kid or lock id is not UTF-8")
        }
        return LockCertificate(keyID: kidS, lockID: lockS, deviceKey: key, notBefore: nb, notAfter: na, signature: sig)
    }

    /// Checks the authority signature, the lock id the phone expects and the validity window at `now` (unix s).
    public func verify(
        authority: [String: P256.Signing.PublicKey],
        expectedLockID: String,
        now: UInt64
    ) throws(ProtocolError) {
        guard let key = authority[keyID] else {
            throw ProtocolError(.lockCertificateInvalid, "lock certificate signed by unknown authority key '\(keyID)'")
        }
        guard Signatures.verify(signature, LockCertificate.label + body, key) else {
            throw ProtocolError(.lockCertificateInvalid, "lock certificate signature does not verify")
        }
        guard lockID == expectedLockID else {
            throw ProtocolError(.wrongLock, "this is lock '\(lockID)', not '\(expectedLockID)'")
        }
        guard now >= notBefore, now < notAfter else {
            throw ProtocolError(.lockCertificateInvalid, "lock certificate is not valid now")
        }
    }
}
