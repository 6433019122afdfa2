import Crypto
import Foundation
import Testing
import WardenCore
import WardenWire

/// Hostile and malformed inputs for `CredentialParser` / `CredentialVerifier`, each signed by the trusted authority
/// (so the parser, not the signature, is what refuses them) unless the test is about the signature.
@Suite struct CredentialParserTests {
    let key = P256.Signing.PrivateKey()
    var verifier: CredentialVerifier { CredentialVerifier(authority: AuthorityKeySet(["k1": key.publicKey])) }
    static let header = #"{"alg":"ES256","kid":"k1"}"#
    let x: String, y: String

    init() {
        let raw = P256.Signing.PrivateKey().publicKey.rawRepresentation
        x = Base64URL.encode(raw.prefix(32))
        y = Base64URL.encode(raw.suffix(32))
    }

    func signed(_ claims: [UInt8], header: String = header) -> String {
        let input = Base64URL.encode(Array(header.utf8)) + "." + Base64URL.encode(claims)
        return input + "." + Base64URL.encode(try! key.signature(for: Array(input.utf8)).rawRepresentation)
    }

    func claims(_ replacing: [String: String] = [:], extra: String = "") -> String {
        var fields: [(String, String)] = [
            ("iss", #""org""#), ("sub", #""alice""#), ("jti", #""c1""#), ("iat", "1790000000"), ("nbf", "1790000000"),
            ("exp", "1790086400"), ("cnf", #"{"jwk":{"kty":"EC","crv":"P-256","x":"\#(x)","y":"\#(y)"}}"#),
            ("doors", #"["front"]"#),
        ]
        fields = fields.compactMap { k, v in replacing[k].map { $0.isEmpty ? nil : (k, $0) } ?? (k, v) }
        return "{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + extra + "}"
    }

    func code(_ token: String) -> JWSError.Code? {
        do {
            _ = try verifier.verify(token)
            return nil
        } catch { return error.code }
    }

    @Test func theBaselineIsAccepted() {
        #expect(code(signed(Array(claims().utf8))) == nil)
        #expect(
            code(signed(Array(claims(["doors": "null", "groups": "null"], extra: #","sched":null,"ext":null"#).utf8)))
                == nil
        )
    }

    @Test(arguments: [
        ("iss", "1"), ("sub", "null"), ("jti", "[]"), ("iat", #""1""#), ("nbf", "1.5"), ("exp", "true"), ("cnf", "{}"),
        ("cnf", #"{"jwk":{"kty":"EC","crv":"P-256","x":"a"}}"#), ("doors", #""front""#), ("doors", "[1]"),
        ("doors", "[null]"), ("iss", ""), ("sub", ""), ("jti", ""), ("iat", ""), ("nbf", ""), ("exp", ""), ("cnf", ""),
    ])
    func wrongTypesAndMissingFieldsAreMalformed(_ field: String, _ value: String) {
        #expect(
            code(signed(Array(claims([field: value]).utf8))) == .malformed,
            "\(field)=\(value.isEmpty ? "(missing)" : value)"
        )
    }

    @Test(arguments: [
        #","ext":1"#, #","ext":"true""#, #","sched":[{"days":["mon"],"start":"08:00"}]"#,
        #","sched":[{"days":["monday"],"start":"08:00","end":"17:00"}]"#,
        #","sched":[{"days":["mon"],"start":"8:00","end":"17:00"}]"#,
        #","sched":[{"days":"mon","start":"08:00","end":"17:00"}]"#,
        #","sched":{}"#, #","groups":[["a"]]"#,
    ])
    func wrongOptionalClaimsAreMalformed(_ extra: String) {
        #expect(code(signed(Array(claims(extra: extra).utf8))) == .malformed, "\(extra)")
    }

    @Test func scheduleWindowsAreRead() throws {
        let token = signed(
            Array(
                claims(
                    extra: #","sched":[{"days":["mon","holiday"],"start":"22:00","end":"06:00","note":"x"}],"ext":true"#
                ).utf8
            )
        )
        let c = try verifier.verify(token)
        #expect(
            c.schedule.windows == [
                ScheduleWindow(
                    days: [.mon, .holiday],
                    start: try LocalTime(parsing: "22:00"),
                    end: try LocalTime(parsing: "06:00")
                )
            ]
        )
        #expect(c.extendedTime)
    }

    @Test func duplicateKeysAreRefused() {
        // Anywhere: a top-level claim (same or different value), a nested key, a header field.
        let dupTop = claims().replacingOccurrences(of: #""iss":"org""#, with: #""iss":"org","iss":"org""#)
        #expect(code(signed(Array(dupTop.utf8))) == .malformed)
        #expect(code(signed(Array(claims(extra: #","doors":["vault"]"#).utf8))) == .malformed)
        #expect(code(signed(Array(claims(extra: #","x":{"a":1,"a":2}"#).utf8))) == .malformed)
        #expect(code(signed(Array(claims(extra: #","x":{"\u0061":1,"a":2}"#).utf8))) == .malformed)
        let dupJWK = claims(["cnf": #"{"jwk":{"kty":"EC","crv":"P-256","x":"\#(x)","y":"\#(y)","x":"\#(x)"}}"#])
        #expect(code(signed(Array(dupJWK.utf8))) == .malformed)
        #expect(code(signed(Array(claims().utf8), header: #"{"alg":"ES256","kid":"k1","alg":"none"}"#)) == .malformed)
    }

    @Test(arguments: [
        "9223372036854775808", "-9223372036854775809", "99999999999999999999999999", "1e3", "-0", "01", "1E2",
    ])
    func hugeAndNonCanonicalNumbersAreMalformed(_ n: String) {
        #expect(code(signed(Array(claims(["nbf": n]).utf8))) == .malformed, "\(n)")
    }

    @Test func int64BoundsAreRead() throws {
        let c = try CredentialParser.parse(
            Array(signed(Array(claims(["iat": "-9223372036854775808", "exp": "9223372036854775807"]).utf8)).utf8)
        )
        #expect(c.payload.iat == Int64.min)
        #expect(c.payload.exp == Int64.max)
    }

    @Test func nonUTF8AndBadEscapesAreMalformed() {
        var bytes = Array(claims(["sub": #""al-ice""#]).utf8)
        let i = bytes.firstIndex(of: UInt8(ascii: "-"))!
        for bad: [UInt8] in [[0xFF], [0xC3], [0xED, 0xA0, 0x80], [0xC0, 0xAF], [0x01]] {
            var b = bytes
            b.replaceSubrange(i...i, with: bad)
            #expect(code(signed(b)) == .malformed, "\(bad)")
        }
        for esc in [#"\ud800"#, #"\udc00x"#, #"\u12"#, #"\x"#, #"\ud800\u0041"#] {
            bytes = Array(claims(["sub": "\"a\(esc)\""]).utf8)
            #expect(code(signed(bytes)) == .malformed, "\(esc)")
        }
        // Valid escapes, including a surrogate pair and an escaped slash, read as their characters.
        let ok = signed(Array(claims(["sub": #""a\/b\ud83d\udd11\u00e9\n""#]).utf8))
        #expect((try? verifier.verify(ok))?.userID == "a/b🔑é\n")
    }

    @Test func nestingBombsAreMalformedNotACrash() {
        for depth in [33, 1000, 3000] {
            let bomb = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
            #expect(code(signed(Array(claims(extra: #","x":"# + bomb).utf8))) == .malformed)
            let objects = String(repeating: #"{"a":"#, count: depth) + "1" + String(repeating: "}", count: depth)
            #expect(code(signed(Array(claims(extra: #","x":"# + objects).utf8))) == .malformed)
        }
        #expect(
            code(
                signed(
                    Array(
                        claims(extra: #","x":"# + String(repeating: "[", count: 30) + String(repeating: "]", count: 30))
                            .utf8
                    )
                )
            ) == nil
        )
    }

    @Test(arguments: [
        "", "{", "[]", "\"x\"", "null", " ", "{}}", "{} x", "{,}", #"{"a":1,}"#, #"{"a"}"#, #"{"a":tru}"#, #"{'a':1}"#,
        "\u{FEFF}{}", #"{"a":[1,]}"#, #"{"a":{"b":1,}}"#,
    ])
    func brokenJSONIsMalformed(_ text: String) {
        #expect(code(signed(Array(text.utf8))) == .malformed, "\(text)")
        #expect(code(signed(Array(claims().utf8), header: text)) == .malformed, "header \(text)")
    }

    @Test func headerRules() {
        let c = Array(claims().utf8)
        #expect(code(signed(c, header: #"{"alg":"ES256"}"#)) == .unknownKeyID)
        #expect(code(signed(c, header: #"{"alg":"ES256","kid":""}"#)) == .unknownKeyID)
        #expect(code(signed(c, header: #"{"alg":"ES256","kid":7}"#)) == .unknownKeyID)
        #expect(code(signed(c, header: #"{"alg":"ES256","kid":"k2"}"#)) == .unknownKeyID)
        #expect(code(signed(c, header: #"{"kid":"k1"}"#)) == .unsupportedAlgorithm)
        #expect(code(signed(c, header: #"{"alg":["ES256"],"kid":"k1"}"#)) == .unsupportedAlgorithm)
        #expect(code(signed(c, header: #"{"alg":"es256","kid":"k1"}"#)) == .unsupportedAlgorithm)
        #expect(code(signed(c, header: #"{"alg":"ES256","kid":"k1","crit":["exp"]}"#)) == .malformed)
        #expect(code(signed(c, header: #"{"typ":"JWT","alg":"ES256","kid":"k1","x":{"y":[1.5e3]}}"#)) == nil)
    }

    @Test func base64URLMustBeCanonical() {
        let token = signed(Array(claims().utf8))
        let parts = token.split(separator: ".").map(String.init)
        #expect(code(token) == nil)
        // Padding, the standard alphabet, whitespace: refused.
        #expect(code(parts[0] + "=." + parts[1] + "." + parts[2]) == .malformed)
        #expect(code(parts[0] + "." + "+" + parts[1].dropFirst() + "." + parts[2]) == .malformed)
        #expect(Base64URL.decodeCanonical(Array("ab+/".utf8)[...]) == nil)
        #expect(code(parts[0] + " ." + parts[1] + "." + parts[2]) == .malformed)
        // Non-zero unused bits: a second spelling of the same bytes.
        #expect(Base64URL.decodeCanonical(Array("QQ".utf8)[...]) == [0x41])
        #expect(Base64URL.decodeCanonical(Array("QR".utf8)[...]) == nil)
        #expect(Base64URL.decodeCanonical(Array("Q".utf8)[...]) == nil)
        #expect(Base64URL.decodeCanonical(Array("QQ==".utf8)[...]) == nil)
        #expect(Base64URL.decodeCanonical(Array("-_-_".utf8)[...]) == [0xFB, 0xFF, 0xBF])
        // A re-spelled signature (same 64 bytes, different text) is not accepted.
        var sig = Array(parts[2].utf8)
        let last = Base64URL.decodeCanonical(sig[...])!
        #expect(last.count == 64)
        sig[sig.count - 1] = sig[sig.count - 1] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        if Base64URL.decodeCanonical(sig[...]) == nil {
            #expect(code(parts[0] + "." + parts[1] + "." + String(decoding: sig, as: UTF8.self)) == .badSignature)
        }
    }

    @Test func signatureCoversTheExactSigningInput() {
        let token = signed(Array(claims().utf8))
        let parts = token.split(separator: ".").map(String.init)
        // Same claims, whitespace added: different bytes, so the signature no longer matches.
        let spaced = Base64URL.encode(Array((" " + claims()).utf8))
        #expect(code(parts[0] + "." + spaced + "." + parts[2]) == .badSignature)
    }
}
