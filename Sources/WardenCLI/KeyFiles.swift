import Crypto
import Foundation
import POSIXIO

/// Reading and writing PEM keys. Private keys are written 0600 from the first byte (`AtomicFile`: an owner-only
/// temporary file renamed into place, without touching the process-wide umask), never readable by others.
enum KeyFiles {
    static func writePrivate(_ key: P256.Signing.PrivateKey, to path: String) throws {
        try writeSecret(Array(key.pemRepresentation.utf8), to: path)
    }

    /// Any secret file (a key, a token): 0600 from its first byte.
    static func writeSecret(_ bytes: [UInt8], to path: String) throws {
        do { try AtomicFile.write(bytes, to: path, mode: 0o600) } catch { throw CLIError(error.description) }
    }

    /// Creates a P-256 key pair: `out` (private, 0600) and `out.pub`; returns the line to print.
    static func generate(out: String, what: String) throws -> String {
        let k = P256.Signing.PrivateKey()
        try writePrivate(k, to: out)
        try writePublic(k.publicKey, to: out + ".pub")
        return "\(what): \(out) (public: \(out).pub)"
    }

    static func writePublic(_ key: P256.Signing.PublicKey, to path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: Data(key.pemRepresentation.utf8)) else {
            throw CLIError("cannot write \(path)")
        }
    }

    static func readPrivate(_ path: String) throws -> P256.Signing.PrivateKey {
        guard let pem = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw CLIError("cannot read \(path)")
        }
        guard let k = try? P256.Signing.PrivateKey(pemRepresentation: pem) else {
            throw CLIError("\(path) is not a P-256 private key in PEM form")
        }
        return k
    }

    static func readPublic(_ path: String) throws -> P256.Signing.PublicKey {
        guard let pem = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw CLIError("cannot read \(path)")
        }
        if let k = try? P256.Signing.PublicKey(pemRepresentation: pem) { return k }
        if let k = try? P256.Signing.PrivateKey(pemRepresentation: pem) { return k.publicKey }
        throw CLIError("\(path) is not a P-256 key in PEM form")
    }

    static func readText(_ path: String) throws -> String {
        guard let s = try? String(contentsOfFile: path, encoding: .utf8) else { throw CLIError("cannot read \(path)") }
        return s.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
