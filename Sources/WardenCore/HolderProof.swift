import Crypto
import Foundation

/// Proof that the presenter holds the private key the credential names (RFC 7800 proof of possession): an ECDSA
/// P-256 signature over a fresh lock nonce bound to the lock and the credential. A copied credential without the
/// phone's key cannot produce it, and a recorded proof is useless once the nonce is spent.
///
/// This is the development-transport form; the BLE protocol (docs/protocol.md) binds the same key to its transcript.
public enum HolderProof {
    public static let label = Array("warden-holder-proof-v1".utf8)
    public static let nonceBytes = 32

    /// The bytes the holder signs: label || len(lockID) || lockID || nonce || len(jti) || jti.
    public static func message(lockID: String, nonce: [UInt8], credentialID: String) -> [UInt8] {
        let lock = Array(lockID.utf8), jti = Array(credentialID.utf8)
        var m = label
        m.append(UInt8(truncatingIfNeeded: lock.count))
        m += lock
        m += nonce
        m.append(UInt8(truncatingIfNeeded: jti.count))
        m += jti
        return m
    }

    public static func sign(
        holder: P256.Signing.PrivateKey, lockID: String, nonce: [UInt8], credentialID: String
    ) throws -> Data {
        try holder.signature(for: message(lockID: lockID, nonce: nonce, credentialID: credentialID)).rawRepresentation
    }

    public static func verify(
        _ proof: Data, holderKey: P256.Signing.PublicKey, lockID: String, nonce: [UInt8], credentialID: String
    ) -> Bool {
        guard nonce.count == nonceBytes, proof.count == 64,
            let sig = try? P256.Signing.ECDSASignature(rawRepresentation: proof)
        else { return false }
        return holderKey.isValidSignature(sig, for: message(lockID: lockID, nonce: nonce, credentialID: credentialID))
    }
}
