import Crypto
import Foundation
import Testing
import WardenAuthority
import WardenCore
import WardenWire

/// ECDSA malleability: (r, s) and (r, n - s) both verify, so one token has two spellings. The authority signs in
/// low-S form only, and anything the board remembers about a token is keyed by its canonical identity.
@Suite struct CompactJWSTests {
    static let order: [UInt8] = [
        0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17, 0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x51,
    ]

    /// The other spelling of `token`'s signature (n - s), computed independently of `CompactJWS.lowS`.
    static func otherSpelling(_ token: String) -> String {
        let parts = token.split(separator: ".")
        var sig = Array(Base64URL.decode(parts[2])!)
        var borrow = 0
        var s = [UInt8](repeating: 0, count: 32)
        for i in stride(from: 31, through: 0, by: -1) {
            var d = Int(order[i]) - Int(sig[32 + i]) - borrow
            borrow = d < 0 ? 1 : 0
            if d < 0 { d += 256 }
            s[i] = UInt8(d)
        }
        sig.replaceSubrange(32..<64, with: s)
        return "\(parts[0]).\(parts[1]).\(Base64URL.encode(sig))"
    }

    func claims(_ id: String, holder: P256.Signing.PublicKey) -> CredentialClaims {
        CredentialClaims(
            issuer: "org",
            userID: "u",
            credentialID: id,
            issuedAt: Date(),
            notBefore: Date(),
            expires: Date().addingTimeInterval(3600),
            holderKey: holder,
            doors: ["front"]
        )
    }

    @Test func theAuthoritySignsInLowSFormOnly() async throws {
        let issuer = CredentialIssuer(keyID: "k", privateKey: P256.Signing.PrivateKey())
        let holder = P256.Signing.PrivateKey().publicKey
        for i in 0..<64 {
            let token = try await issuer.sign(claims("c\(i)", holder: holder))
            let sig = Array(Base64URL.decode(token.split(separator: ".")[2])!)
            #expect(CompactJWS.isLowS(sig), "token \(i) is high-S")
            #expect(try CredentialVerifier(authority: issuer.publicKeySet).verify(token).credentialID == "c\(i)")
        }
    }

    @Test func bothSpellingsVerifyAndHaveOneIdentity() async throws {
        let issuer = CredentialIssuer(keyID: "k", privateKey: P256.Signing.PrivateKey())
        let token = try await issuer.sign(claims("c1", holder: P256.Signing.PrivateKey().publicKey))
        let other = Self.otherSpelling(token)
        #expect(other != token)
        let verifier = CredentialVerifier(authority: issuer.publicKeySet)
        #expect(try verifier.verify(other).credentialID == "c1", "ECDSA accepts the other spelling")
        #expect(
            CompactJWS.canonicalIdentity(of: Array(token.utf8)) == CompactJWS.canonicalIdentity(of: Array(other.utf8))
        )
        #expect(
            SHA256.hash(data: Array(token.utf8)) != SHA256.hash(data: Array(other.utf8)),
            "a hash of the bytes would see two tokens"
        )
    }
}
