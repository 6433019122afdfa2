import Crypto
import Foundation
import WardenProtocol

/// Returns a recorded signature, after checking it is asked to sign exactly the recorded message. ECDSA signatures
/// are randomised, so test vectors fix them this way: the vector states the signed message and the signature.
struct FixedSigner: MessageSigner {
    let publicKey: P256.Signing.PublicKey
    let expectedMessage: [UInt8]
    let signature: [UInt8]
    func sign(_ message: [UInt8]) throws -> [UInt8] {
        guard message == expectedMessage else {
            throw ProtocolError(.internalError, "asked to sign a different message than the vector's")
        }
        return signature
    }
}

/// Deterministic key material for the vectors: scalar = SHA-256(label).
func scalar(_ label: String) -> [UInt8] { Array(SHA256.hash(data: Array(label.utf8))) }

/// The test vector file (Vectors/handshake-v1.json), every value hex unless noted.
struct Vector {
    let v: [String: String]
    init() throws {
        let url = Bundle.module.url(forResource: "handshake-v1", withExtension: "json", subdirectory: "Vectors")!
        v = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: String]
    }
    subscript(_ k: String) -> [UInt8] { Hex.decode(v[k]!) }
    func text(_ k: String) -> String { v[k]! }
}
