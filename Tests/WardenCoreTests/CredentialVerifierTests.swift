import Crypto
import Foundation
import Testing
import WardenAuthority
import WardenCore
import WardenWire

@Suite struct CredentialVerifierTests {
    let auth = TestAuthority()

    @Test func validCredentialVerifiesAndCarriesItsClaims() async throws {
        let token = try await auth.token(groups: ["lobby"], extended: true)
        let c = try auth.verifier.verify(token)
        #expect(c.credentialID == "cred-1")
        #expect(c.userID == "alice")
        #expect(c.doors == ["front"])
        #expect(c.groups == ["lobby"])
        #expect(c.extendedTime)
        #expect(c.keyID == "auth-2026")
        #expect(c.holderKey.rawRepresentation == auth.holder.publicKey.rawRepresentation)
    }

    @Test func otherAuthoritySameKidIsBadSignature() async throws {
        let forger = TestAuthority(kid: "auth-2026")
        let token = try await forger.token()
        #expect(throws: JWSError.self) { try auth.verifier.verify(token) }
        do { _ = try auth.verifier.verify(token) } catch { #expect(error.code == .badSignature) }
    }

    @Test func unknownKeyID() async throws {
        let other = TestAuthority(kid: "someone-else")
        let token = try await other.token()
        do {
            _ = try auth.verifier.verify(token)
            Issue.record("accepted a credential from an unknown key id")
        } catch { #expect(error.code == .unknownKeyID) }
    }

    @Test func tamperedPayloadFails() async throws {
        let token = try await auth.token(doors: ["front"])
        var parts = token.split(separator: ".").map(String.init)
        var json = String(decoding: Base64URL.decode(parts[1])!, as: UTF8.self)
        json = json.replacingOccurrences(of: "\"front\"", with: "\"vault\"")
        parts[1] = Base64URL.encode(Array(json.utf8))
        do {
            _ = try auth.verifier.verify(parts.joined(separator: "."))
            Issue.record("tampered payload accepted")
        } catch { #expect(error.code == .badSignature) }
    }

    @Test func algNoneAndHMACAreRefused() async throws {
        let token = try await auth.token()
        let parts = token.split(separator: ".").map(String.init)
        for alg in ["none", "HS256", "ES384"] {
            let header = Base64URL.encode(Array("{\"alg\":\"\(alg)\",\"kid\":\"auth-2026\"}".utf8))
            do {
                _ = try auth.verifier.verify([header, parts[1], parts[2]].joined(separator: "."))
                Issue.record("alg \(alg) accepted")
            } catch { #expect(error.code == .unsupportedAlgorithm) }
        }
    }

    @Test(arguments: ["", "a.b", "a.b.c.d", "!!!.???.###", String(repeating: "A", count: 5000)])
    func garbageIsMalformedNotACrash(_ token: String) {
        do {
            _ = try auth.verifier.verify(token)
            Issue.record("garbage accepted")
        } catch { #expect(error.code == .malformed) }
    }

    @Test func rotationAcceptsEveryConfiguredKey() async throws {
        let old = TestAuthority(kid: "auth-2025")
        var keys: [String: P256.Signing.PublicKey] = [:]
        keys["auth-2025"] = old.issuer.privateKey.publicKey
        keys["auth-2026"] = auth.issuer.privateKey.publicKey
        let v = CredentialVerifier(authority: AuthorityKeySet(keys))
        #expect(try v.verify(try await old.token()).keyID == "auth-2025")
        #expect(try v.verify(try await auth.token()).keyID == "auth-2026")
    }
}
