import Crypto
import Foundation
import JWTKit
import Testing
import WardenAuthority
import WardenWire

@testable import WardenCore

/// `CredentialParser` against the parser it replaced (jwt-kit's `DefaultJWTParser` + `JSONDecoder`), kept here as
/// the oracle: the same `Credential` for every credential the issuer can write, the same error code for everything the
/// old path refused, and refusals of its own only for the documented strictness rules.
@Suite struct CredentialParserOracleTests {
    static let kid = "auth-2026"
    let key = P256.Signing.PrivateKey()
    var verifier: CredentialVerifier { CredentialVerifier(authority: AuthorityKeySet([Self.kid: key.publicKey])) }

    /// The decision path as it was before this parser (jwt-kit parse, then the same checks).
    func legacyVerify(_ token: String) throws(JWSError) -> Credential {
        let bytes = Array(token.utf8)
        guard bytes.count <= CredentialVerifier.maxTokenBytes else { throw JWSError(.malformed, "too long") }
        let parts = bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw JWSError(.malformed, "three parts") }
        let parsed: (header: JWTHeader, payload: CredentialClaims, signature: Data)
        do {
            parsed = try DefaultJWTParser().parse(bytes, as: CredentialClaims.self)
        } catch { throw JWSError(.malformed, "\(error)") }
        guard parsed.header.alg == "ES256" else { throw JWSError(.unsupportedAlgorithm, "alg") }
        guard let kid = parsed.header.kid, !kid.isEmpty, let k = verifier.authority[kid] else {
            throw JWSError(.unknownKeyID, "kid")
        }
        let signingInput = Data(bytes[..<(parts[0].count + 1 + parts[1].count)])
        guard parsed.signature.count == 64,
            let signature = try? P256.Signing.ECDSASignature(rawRepresentation: parsed.signature),
            k.isValidSignature(signature, for: SHA256.hash(data: signingInput))
        else { throw JWSError(.badSignature, "signature") }
        return try Credential(keyID: kid, claims: parsed.payload)
    }

    /// Signs arbitrary header and claims bytes (not necessarily JSON, not necessarily UTF-8) with the trusted key.
    func signed(
        header: [UInt8] = Array(#"{"alg":"ES256","kid":"auth-2026","typ":"JWT"}"#.utf8),
        claims: [UInt8]
    ) -> String {
        let input = Base64URL.encode(header) + "." + Base64URL.encode(claims)
        let sig = try! key.signature(for: Array(input.utf8))
        return input + "." + Base64URL.encode(sig.rawRepresentation)
    }

    enum Outcome: Equatable {
        case ok(Credential)
        case failed(JWSError.Code)
    }

    func outcome(_ body: () throws(JWSError) -> Credential) -> (Outcome, String) {
        do { return (.ok(try body()), "") } catch { return (.failed(error.code), error.message) }
    }

    /// Messages of the rules the new parser adds on purpose (everything else must agree with the oracle).
    static let strictnessMarkers = [
        "duplicate key", "without fraction, exponent or leading zero", "-0 is not", "canonical base64url",
        "nested deeper",
        "crit header", "byte-order mark", "trailing comma",
    ]

    static let knownClaims = ["iss", "sub", "jti", "iat", "nbf", "exp", "cnf", "doors", "groups", "sched", "ext"]

    // MARK: generated credentials

    static let alphabet: [String] = [
        "a", "Z", "0", "-", "_", " ", "/", "\\", "\"", "é", "e\u{301}", "ß", "漢", "🔑", "\u{7}", "\n", "\t", "\u{0}",
        "\u{7F}", "\u{2028}", "{", "}", "[", "]", ":", ",",
    ]

    static func randomString<G: RandomNumberGenerator>(_ g: inout G, max: Int = 12) -> String {
        (0..<Int.random(in: 1...max, using: &g)).map { _ in alphabet.randomElement(using: &g)! }.joined()
    }

    static func randomClaims<G: RandomNumberGenerator>(_ g: inout G, holder: P256.Signing.PublicKey) -> CredentialClaims
    {
        let nbf = Int64.random(in: -4_000_000_000...4_000_000_000, using: &g)
        var c = CredentialClaims(
            issuer: randomString(&g),
            userID: randomString(&g),
            credentialID: randomString(&g, max: 30),
            issuedAt: Date(timeIntervalSince1970: 0),
            notBefore: Date(timeIntervalSince1970: 0),
            expires: Date(timeIntervalSince1970: 0),
            holderKey: holder,
            doors: []
        )
        c.iat = Int64.random(in: Int64.min...Int64.max, using: &g)
        c.nbf = nbf
        c.exp = nbf + Int64.random(in: 0...1_000_000_000, using: &g)
        c.doors = Bool.random(using: &g) ? nil : (0..<Int.random(in: 0...5, using: &g)).map { _ in randomString(&g) }
        c.groups = Bool.random(using: &g) ? nil : (0..<Int.random(in: 0...5, using: &g)).map { _ in randomString(&g) }
        c.ext = [nil, true, false].randomElement(using: &g)!
        if Bool.random(using: &g) {
            c.sched = (0..<Int.random(in: 0...4, using: &g)).map { _ in
                ScheduleWindow(
                    days: (0..<Int.random(in: 0...9, using: &g)).map { _ in Weekday.allCases.randomElement(using: &g)!
                    },
                    start: try! LocalTime(minutes: Int.random(in: 0...1440, using: &g)),
                    end: try! LocalTime(minutes: Int.random(in: 0...1440, using: &g))
                )
            }
        }
        return c
    }

    @Test func generatedCredentialsGiveTheSameCredentialAsJWTKit() async throws {
        var g = SeededGenerator(seed: 0x5EED_2026)
        let holder = P256.Signing.PrivateKey().publicKey
        let encoder = JSONEncoder()
        for i in 0..<500 {
            await Task.yield()  // a long CPU loop: let the suites with real-time deadlines (wardend sessions) run
            let claims = Self.randomClaims(&g, holder: holder)
            if i % 2 == 0 {
                encoder.outputFormatting = []
            } else {
                encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
            }
            let token = signed(claims: Array(try encoder.encode(claims)))
            let old = outcome { () throws(JWSError) in try legacyVerify(token) }
            let new = outcome { () throws(JWSError) in try verifier.verify(token) }
            #expect(new.0 == old.0, "claims \(claims)")
            if case .ok = old.0 {} else { Issue.record("the oracle refused a generated credential: \(old.1)") }
            #expect(try CredentialParser.parse(Array(token.utf8)).payload == claims)
        }
    }

    @Test func issuerTokensAgree() async throws {
        let issuer = CredentialIssuer(keyID: Self.kid, privateKey: key)
        var g = SeededGenerator(seed: 0x5EED_2026)
        for _ in 0..<20 {
            let token = try await issuer.sign(Self.randomClaims(&g, holder: P256.Signing.PrivateKey().publicKey))
            let old = outcome { () throws(JWSError) in try legacyVerify(token) }
            if case .ok = old.0 {} else { Issue.record("the oracle refused an issuer-signed credential: \(old.1)") }
            #expect(outcome { () throws(JWSError) in try verifier.verify(token) }.0 == old.0)
        }
    }

    @Test func unknownClaimsAndHeaderFieldsAreIgnoredLikeJWTKit() throws {
        let holder = P256.Signing.PrivateKey().publicKey
        let base = String(
            decoding: try JSONEncoder().encode(
                CredentialClaims(
                    issuer: "org",
                    userID: "u",
                    credentialID: "c",
                    issuedAt: Date(),
                    notBefore: Date(),
                    expires: Date(),
                    holderKey: holder,
                    doors: ["front"]
                )
            ),
            as: UTF8.self
        )
        let extra = #""zz":{"a":[1,-2.5e+3,null,true,false,"x\u00e9"],"b":{}},"n":0.5,"#
        let claims = Array(("{" + extra + base.dropFirst()).utf8)
        let header = Array(#"{"typ":"JWT","x5t":["a",{"b":1e10}],"alg":"ES256","kid":"auth-2026"}"#.utf8)
        let token = signed(header: header, claims: claims)
        let old = outcome { () throws(JWSError) in try legacyVerify(token) }
        guard case .ok = old.0 else {
            Issue.record("oracle refused: \(old.1)")
            return
        }
        #expect(outcome { () throws(JWSError) in try verifier.verify(token) }.0 == old.0)
    }

    // MARK: mutated claims, properly signed: the parser is what is being tested

    @Test func mutatedClaimsAgreeWithTheOracleOrHitADocumentedRule() async throws {
        // Deterministic: seeded choices, a fixed holder key and sorted keys (dictionary order varies per process).
        var g = SeededGenerator(seed: 0x5EED_2026)
        let holder = try P256.Signing.PrivateKey(rawRepresentation: [UInt8](repeating: 0x42, count: 32)).publicKey
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let pieces: [[UInt8]] =
            [
                "{", "}", "[", "]", "\"", ":", ",", "0", "1", "-", ".", "e", "E", "+", " ", "\\", "u", "n", "null",
                "true",
                "false", "\\ud800", "\\u00", "1e2", "1.0", "\"x\"", "99999999999999999999", "-0",
            ].map { Array($0.utf8) } + [[0xFF], [0xC3], [0x00], [0x1F], [0xEF, 0xBB, 0xBF]]
        var agreed = 0
        var stricter = 0
        for _ in 0..<3000 {
            await Task.yield()
            var json = Array(try encoder.encode(Self.randomClaims(&g, holder: holder)))
            for _ in 0..<Int.random(in: 1...3, using: &g) {
                let at = Int.random(in: 0...json.count, using: &g)
                switch Int.random(in: 0..<3, using: &g) {
                case 0 where at < json.count: json.remove(at: at)
                case 1 where at < json.count: json[at] = pieces.randomElement(using: &g)!.first!
                default: json.insert(contentsOf: pieces.randomElement(using: &g)!, at: at)
                }
            }
            let token = signed(claims: json)
            let old = outcome { () throws(JWSError) in try legacyVerify(token) }
            let new = outcome { () throws(JWSError) in try verifier.verify(token) }
            let text = String(decoding: json, as: UTF8.self)
            switch (old.0, new.0) {
            case (.ok(let a), .ok(let b)):
                #expect(a == b, "\(text)")
                agreed += 1
            case (.failed(let a), .failed(let b)):
                #expect(a == b, "old \(old.1) new \(new.1): \(text)")
                agreed += 1
            case (.failed, .ok):
                Issue.record("accepted what jwt-kit refused (\(old.1)): \(text)")
            case (.ok, .failed):
                // JSONDecoder never looks inside a claim it does not decode (a bad escape or invalid UTF-8 there
                // passes); this parser checks every value.
                // (The parser says "claims.<key>: <reason>"; a mutated key such as "groups:" must not pass for "groups".)
                let inUnknownClaim =
                    new.1.hasPrefix("claims.")
                    && !Self.knownClaims.contains {
                        new.1.hasPrefix("claims.\($0): ") || new.1.hasPrefix("claims.\($0).")
                            || new.1.hasPrefix("claims.\($0)[")
                    }
                #expect(
                    inUnknownClaim || Self.strictnessMarkers.contains { new.1.contains($0) },
                    "refused \(new.1): \(text)"
                )
                stricter += 1
            }
        }
        #expect(agreed > 2500)
    }

    // MARK: tokens from outside: same code as before

    @Test func truncationsAndForgeriesGetTheOldCodes() async throws {
        let token = signed(
            claims: Array(
                try JSONEncoder().encode(
                    CredentialClaims(
                        issuer: "org",
                        userID: "u",
                        credentialID: "c",
                        issuedAt: Date(),
                        notBefore: Date(),
                        expires: Date(),
                        holderKey: P256.Signing.PrivateKey().publicKey,
                        doors: ["front"]
                    )
                )
            )
        )
        var tokens = (0..<token.utf8.count).map { String(decoding: Array(token.utf8)[..<$0], as: UTF8.self) }
        let parts = token.split(separator: ".").map(String.init)
        let forger = P256.Signing.PrivateKey()
        let forgedSig = Base64URL.encode(
            try forger.signature(for: Array((parts[0] + "." + parts[1]).utf8)).rawRepresentation
        )
        tokens += [
            parts[0] + "." + parts[1] + "." + forgedSig, parts[0] + "." + parts[1] + ".",
            parts[0] + "." + parts[1] + ".!!",
            parts[0] + "." + parts[1] + "." + parts[2] + "A", parts[0] + ".." + parts[2],
            "." + parts[1] + "." + parts[2],
        ]
        for t in tokens {
            await Task.yield()
            let old = outcome { () throws(JWSError) in try legacyVerify(t) }
            let new = outcome { () throws(JWSError) in try verifier.verify(t) }
            #expect(old.0 == new.0, "old \(old.1) new \(new.1): \(t)")
        }
    }
}

/// jwt-kit parses the claims as the oracle; the product no longer makes them a `JWTPayload`.
extension CredentialClaims: JWTPayload {
    public func verify(using algorithm: some JWTAlgorithm) async throws {}
}
