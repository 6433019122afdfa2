import Crypto
import CryptoExtras
import Foundation
import WardenWire

/// Bearer secrets (API tokens, phone tokens, invitations, enrollment tokens, sessions) and dashboard passwords.
/// A secret is shown once and stored only as its SHA-256: it has 256 bits of entropy, so a fast hash is enough and
/// a stolen table opens nothing. Passwords are people's, so they get scrypt.
public enum Secrets {
    /// 32 random bytes, base64url.
    public static func random() -> String {
        var g = SystemRandomNumberGenerator()
        return Base64URL.encode((0..<32).map { _ in UInt8.random(in: 0...255, using: &g) })
    }

    /// A secret that people paste into a command line or a chat: `prefix` and `random()`. The prefix says what the
    /// secret is (support engineers and secret scanners recognise it) and keeps its first character a letter, so a
    /// token is never read as a command-line option (base64url starts with `-` one time in 64).
    public static func token(_ kind: TokenKind) -> String { kind.rawValue + random() }

    /// The prefixes of pasteable secrets.
    public enum TokenKind: String, Sendable, CaseIterable {
        case enrollment = "wen_"
        case invitation = "winv_"
        case phone = "wph_"
        case supportUpload = "wsb_"
    }

    /// A short random id: `prefix` and 16 hex digits.
    public static func id(_ prefix: String) -> String {
        var g = SystemRandomNumberGenerator()
        return prefix + (0..<8).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &g)) }.joined()
    }

    public static func hash(_ secret: String) -> [UInt8] { Array(SHA256.hash(data: Data(secret.utf8))) }

    /// An API token reads `wdn_<id>_<secret>`: the id finds the row without scanning, the secret proves it.
    public static func apiToken(id: String) -> String { "wdn_\(id)_\(random())" }

    public static func splitAPIToken(_ token: String) -> (id: String, secret: String)? {
        let parts = token.split(separator: "_", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "wdn", !parts[1].isEmpty, parts[2].count >= 40 else { return nil }
        return (String(parts[1]), String(parts[2]))
    }

    /// Constant time, so a timing oracle does not leak how many leading bytes matched.
    public static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for i in a.indices { diff |= a[i] ^ b[i] }
        return diff == 0
    }

    /// scrypt with N=2^15, r=8, p=1 (about 32 MiB and 0.1 s here): the parameters travel in the stored string, so
    /// they can be raised later without breaking old hashes.
    public static func hashPassword(_ password: String, logN: Int = 15) throws -> String {
        var g = SystemRandomNumberGenerator()
        let salt = (0..<16).map { _ in UInt8.random(in: 0...255, using: &g) }
        let key = try scrypt(password, salt: salt, logN: logN)
        return "scrypt$\(logN)$8$1$\(Base64URL.encode(salt))$\(Base64URL.encode(key))"
    }

    public static func verifyPassword(_ password: String, against stored: String) -> Bool {
        let p = stored.split(separator: "$")
        guard p.count == 6, p[0] == "scrypt", let logN = Int(p[1]), (10...20).contains(logN), p[2] == "8", p[3] == "1",
            let salt = Base64URL.decode(p[4]).map(Array.init), let expected = Base64URL.decode(p[5]).map(Array.init),
            let key = try? scrypt(password, salt: salt, logN: logN)
        else { return false }
        return equal(key, expected)
    }

    static func scrypt(_ password: String, salt: [UInt8], logN: Int) throws -> [UInt8] {
        let key = try KDF.Scrypt.deriveKey(
            from: Array(password.utf8),
            salt: salt,
            outputByteCount: 32,
            rounds: 1 << logN,
            blockSize: 8,
            parallelism: 1,
            maxMemory: 64 << 20
        )
        return key.withUnsafeBytes { Array($0) }
    }
}
