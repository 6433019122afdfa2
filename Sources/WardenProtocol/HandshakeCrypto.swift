import Crypto
import Foundation

/// The key schedule and record protection of protocol version 1 (docs/protocol.md, "Key schedule"). Shared by the
/// phone and the lock so both compute exactly the same bytes.
public enum HandshakeCrypto {
    public static let version: UInt8 = 1
    public static let saltLabel = Array("warden-v1 handshake".utf8)
    public static let keyInfo = Array("warden-v1 session keys".utf8)
    public static let lockSignatureLabel = Array("warden-v1 lock signature".utf8)
    public static let holderSignatureLabel = Array("warden-v1 holder signature".utf8)
    public static let phoneNonceBytes = 16
    public static let lockNonceBytes = 32
    public static let tagBytes = 16

    public struct SessionKeys: Sendable, Equatable {
        /// Lock-to-phone and phone-to-lock AES-256-GCM keys.
        public var lockToPhone: SessionKey
        public var phoneToLock: SessionKey
    }

    /// salt = SHA-256("warden-v1 handshake" || HELLO frame || lock ephemeral (65) || lock nonce (32));
    /// keys = HKDF-SHA256(ECDH x-coordinate, salt, "warden-v1 session keys", 64) = lock->phone (32) || phone->lock (32).
    public static func deriveKeys(
        shared: SharedSecret,
        hello: [UInt8],
        lockEphemeral: [UInt8],
        lockNonce: SessionNonce
    ) -> SessionKeys {
        let salt = Array(SHA256.hash(data: saltLabel + hello + lockEphemeral + lockNonce.bytes))
        let okm = shared.hkdfDerivedSymmetricKey(
            using: SHA256.self,
            salt: salt,
            sharedInfo: keyInfo,
            outputByteCount: 64
        )
        let bytes = okm.withUnsafeBytes { Array($0) }
        return SessionKeys(lockToPhone: SessionKey(bytes[0..<32]), phoneToLock: SessionKey(bytes[32..<64]))
    }

    public static func seal(
        _ plaintext: [UInt8],
        key: SessionKey,
        counter: MessageCounter,
        aad: [UInt8]
    ) throws(ProtocolError) -> [UInt8] {
        do {
            let box = try AES.GCM.seal(
                plaintext,
                using: key.key,
                nonce: try AES.GCM.Nonce(data: counter.nonce),
                authenticating: aad
            )
            return Array(box.ciphertext) + Array(box.tag)
        } catch { throw ProtocolError(.internalError, "sealing failed") }
    }

    public static func open(
        _ sealed: [UInt8],
        key: SessionKey,
        counter: MessageCounter,
        aad: [UInt8]
    ) throws(ProtocolError) -> [UInt8] {
        guard sealed.count >= tagBytes else { throw ProtocolError(.badFrame, "ciphertext shorter than its tag") }
        do {
            let box = try AES.GCM.SealedBox(
                nonce: try AES.GCM.Nonce(data: counter.nonce),
                ciphertext: sealed.dropLast(tagBytes),
                tag: sealed.suffix(tagBytes)
            )
            return Array(try AES.GCM.open(box, using: key.key, authenticating: aad))
        } catch {
            throw ProtocolError(.decryptFailed, "message does not authenticate (tampered, replayed or wrong session)")
        }
    }

    /// Lock signature input: label || SHA-256(HELLO || lock ephemeral || lock nonce || certificate).
    public static func lockSignedMessage(
        hello: [UInt8],
        lockEphemeral: [UInt8],
        lockNonce: SessionNonce,
        certificate: [UInt8]
    ) -> [UInt8] {
        lockSignatureLabel + Array(SHA256.hash(data: hello + lockEphemeral + lockNonce.bytes + certificate))
    }

    /// Holder signature input: label || SHA-256(HELLO || LOCK_HELLO frame || credential).
    public static func holderSignedMessage(hello: [UInt8], lockHello: [UInt8], credential: [UInt8]) -> [UInt8] {
        holderSignatureLabel + Array(SHA256.hash(data: hello + lockHello + credential))
    }

    static func ecdh(_ priv: P256.KeyAgreement.PrivateKey, _ peer: [UInt8]) throws(ProtocolError) -> SharedSecret {
        guard peer.count == 65, let pub = try? P256.KeyAgreement.PublicKey(x963Representation: peer) else {
            throw ProtocolError(.badKey, "ephemeral key is not an uncompressed P-256 point")
        }
        guard let s = try? priv.sharedSecretFromKeyAgreement(with: pub) else {
            throw ProtocolError(.badKey, "key agreement failed")
        }
        return s
    }
}

extension HandshakeCrypto {
    /// The lock's ECDH (same checks as the phone's), exposed for `LockSession`.
    public static func ecdhLock(
        _ priv: P256.KeyAgreement.PrivateKey,
        _ peer: [UInt8]
    ) throws(ProtocolError) -> SharedSecret {
        try ecdh(priv, peer)
    }
}
