import Crypto
import Foundation

/// Something that signs with a P-256 key: the phone's holder key (on iOS a Secure Enclave key behind this protocol),
/// or the lock's device identity key. Signs the *message*; ECDSA hashes it with SHA-256. Returns r||s, 64 bytes.
public protocol MessageSigner: Sendable {
    var publicKey: P256.Signing.PublicKey { get }
    func sign(_ message: [UInt8]) throws -> [UInt8]
}

extension P256.Signing.PrivateKey: MessageSigner {
    public func sign(_ message: [UInt8]) throws -> [UInt8] {
        Array(try signature(for: message).rawRepresentation)
    }
}

enum Signatures {
    static func verify(_ sig: [UInt8], _ message: [UInt8], _ key: P256.Signing.PublicKey) -> Bool {
        guard sig.count == 64, let s = try? P256.Signing.ECDSASignature(rawRepresentation: sig) else { return false }
        return key.isValidSignature(s, for: message)
    }
}
