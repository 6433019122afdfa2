/// Reads a compact JWS credential (`header.claims.signature`) without Foundation's `JSONDecoder`: strict base64url,
/// then `StrictJSONReader` walking exactly the header fields and the `CredentialClaims` schema. This is the decision
/// path's parser: with it `CredentialVerifier.verify` costs ~65 µs instead of ~120 µs, almost all of it the ES256
/// check (docs/benchmarks.md). jwt-kit stays the issuing side and the test oracle (`CredentialParserOracleTests`:
/// the same claims for every credential the issuer writes).
///
/// It checks what jwt-kit's parse + `JSONDecoder` checked, as `.malformed`, in the same order (so a token gets the same
/// `CredentialError` code from both): the three parts decode, the header is a JSON object, the claims have every
/// required field with the right JSON type (`iss sub jti` strings, `iat nbf exp` integers, `cnf.jwk.{kty,crv,x,y}`
/// strings; `doors groups` string arrays, `sched` windows with known day names and HH:MM times, `ext` a boolean, each
/// optional and `null` meaning absent), and the signature part decodes. Semantic checks (a P-256 `cnf` key, non-empty
/// ids, `nbf <= exp`) stay in `Credential.init`, after the signature, as before.
///
/// Deliberately stricter (docs/protocol.md 12.4; our issuer never writes any of these):
/// - a duplicate key in any object is `.malformed` (JSONDecoder keeps one of them silently);
/// - integers must be canonical (`1.0`, `1e3`, `-0`, `01` are refused);
/// - base64url must be canonical: no `=` padding, zero unused trailing bits (for the signature part this reads as a
///   bad signature, as a truncated signature did with jwt-kit);
/// - a `crit` header is refused (RFC 7515 4.1.11: we understand no extensions);
/// - trailing commas are refused (Foundation's JSON parser accepts `{"a":1,}`);
/// - every value is checked, also inside unknown claims (`JSONDecoder` lets a bad escape or invalid UTF-8 through in a
///   claim it does not decode);
/// - nesting is limited to 32 levels, a byte-order mark or trailing data is refused.
/// Unknown claims and unknown header fields are ignored (after their JSON syntax is checked), as jwt-kit did, so the
/// issuer can add claims without breaking deployed boards.
public enum CredentialParser {
    /// The parts of a parsed token. `signingInputCount` is the length of `header.claims`, the exact bytes the
    /// authority signed (a prefix of the token).
    public struct Parsed: Sendable {
        public var alg: String?
        public var kid: String?
        public var claims: CredentialClaims
        public var signature: [UInt8]
        public var signingInputCount: Int
    }

    public static func parse(_ token: [UInt8]) throws(CredentialError) -> Parsed {
        guard let dot1 = token.firstIndex(of: UInt8(ascii: ".")),
            let dot2 = token[(dot1 + 1)...].firstIndex(of: UInt8(ascii: ".")),
            !token[(dot2 + 1)...].contains(UInt8(ascii: "."))
        else { throw CredentialError(.malformed, "a credential is a compact JWS: three parts") }
        guard let headerJSON = Base64URL.decodeCanonical(token[..<dot1]),
            let claimsJSON = Base64URL.decodeCanonical(token[(dot1 + 1)..<dot2])
        else { throw CredentialError(.malformed, "credential header or claims are not canonical base64url") }
        let (alg, kid) = try header(headerJSON)
        let claims = try claims(claimsJSON)
        let signaturePart = token[(dot2 + 1)...]
        guard let signature = Base64URL.decodeCanonical(signaturePart) else {
            // Not base64url at all: malformed, as jwt-kit said. Base64url letters but not the canonical spelling of
            // 64 bytes (a truncated or re-encoded signature): an empty signature, refused as `.badSignature` by the
            // verifier as jwt-kit's path did, without guessing what the other spelling meant.
            let base64URLish = signaturePart.allSatisfy { Base64URL.isAlphabet($0) || $0 == UInt8(ascii: "=") }
            guard base64URLish, signaturePart.count % 4 != 1 else {
                throw CredentialError(.malformed, "credential signature is not base64url")
            }
            return Parsed(alg: alg, kid: kid, claims: claims, signature: [], signingInputCount: dot2)
        }
        return Parsed(alg: alg, kid: kid, claims: claims, signature: signature, signingInputCount: dot2)
    }

    /// The JOSE header: `alg` and `kid` when they are strings (anything else reads as absent, as in jwt-kit, and is
    /// then refused by the verifier), other fields checked for syntax and ignored, `crit` refused.
    static func header(_ json: [UInt8]) throws(CredentialError) -> (alg: String?, kid: String?) {
        var r = try StrictJSONReader(json, path: "header")
        var alg: String?
        var kid: String?
        try r.object { (r, key) throws(CredentialError) in
            switch key {
            case "alg", "kid":
                // A non-string alg/kid is skipped, leaving nil: the verifier refuses it with the usual code.
                let value: String?
                do {
                    var probe = r
                    value = try probe.string()
                    r = probe
                } catch {
                    value = nil
                    try r.skipValue(depth: 2)
                }
                if key == "alg" { alg = value } else { kid = value }
            case "crit": throw r.fail("crit header: no JWS extensions are understood")
            default: try r.skipValue(depth: 2)
            }
        }
        try r.end()
        return (alg, kid)
    }

    /// The claims, exactly the `CredentialClaims` schema.
    static func claims(_ json: [UInt8]) throws(CredentialError) -> CredentialClaims {
        var r = try StrictJSONReader(json, path: "claims")
        var iss: String?, sub: String?, jti: String?
        var iat: Int64?, nbf: Int64?, exp: Int64?
        var cnf: CredentialClaims.Confirmation?
        var doors: [String]?, groups: [String]?
        var sched: [ScheduleWindow]?
        var ext: Bool?
        try r.object { (r, key) throws(CredentialError) in
            r.field = key
            switch key {
            case "iss": iss = try r.string()
            case "sub": sub = try r.string()
            case "jti": jti = try r.string()
            case "iat": iat = try r.int64()
            case "nbf": nbf = try r.int64()
            case "exp": exp = try r.int64()
            case "cnf": cnf = try confirmation(&r)
            case "doors": doors = try r.consumeNull() ? nil : strings(&r)
            case "groups": groups = try r.consumeNull() ? nil : strings(&r)
            case "sched": sched = try r.consumeNull() ? nil : schedule(&r)
            case "ext": ext = try r.consumeNull() ? nil : r.bool()
            default: try r.skipValue(depth: 2)
            }
            r.field = nil
        }
        try r.end()
        guard let iss, let sub, let jti, let iat, let nbf, let exp, let cnf else {
            let missing = [
                ("iss", iss == nil), ("sub", sub == nil), ("jti", jti == nil), ("iat", iat == nil),
                ("nbf", nbf == nil), ("exp", exp == nil), ("cnf", cnf == nil),
            ].filter { $0.1 }.map { $0.0 }
            throw CredentialError(.malformed, "claims: missing \(missing.joined(separator: ", "))")
        }
        return CredentialClaims(
            iss: iss,
            sub: sub,
            jti: jti,
            iat: iat,
            nbf: nbf,
            exp: exp,
            cnf: cnf,
            doors: doors,
            groups: groups,
            sched: sched,
            ext: ext
        )
    }

    private static func strings(_ r: inout StrictJSONReader) throws(CredentialError) -> [String] {
        var out: [String] = []
        try r.array(depth: 2) { (r) throws(CredentialError) in out.append(try r.string()) }
        return out
    }

    private static func confirmation(_ r: inout StrictJSONReader) throws(CredentialError)
        -> CredentialClaims.Confirmation
    {
        var jwk: CredentialClaims.HolderJWK?
        try r.object(depth: 2) { (r, key) throws(CredentialError) in
            guard key == "jwk" else { return try r.skipValue(depth: 3) }
            var kty: String?, crv: String?, x: String?, y: String?
            try r.object(depth: 3) { (r, key) throws(CredentialError) in
                switch key {
                case "kty": kty = try r.string()
                case "crv": crv = try r.string()
                case "x": x = try r.string()
                case "y": y = try r.string()
                default: try r.skipValue(depth: 4)
                }
            }
            guard let kty, let crv, let x, let y else { throw r.fail("cnf.jwk needs kty, crv, x and y") }
            jwk = CredentialClaims.HolderJWK(kty: kty, crv: crv, x: x, y: y)
        }
        guard let jwk else { throw r.fail("cnf has no jwk") }
        return CredentialClaims.Confirmation(jwk: jwk)
    }

    private static func schedule(_ r: inout StrictJSONReader) throws(CredentialError) -> [ScheduleWindow] {
        var windows: [ScheduleWindow] = []
        try r.array(depth: 2) { (r) throws(CredentialError) in
            var days: [Weekday]?, start: LocalTime?, end: LocalTime?
            try r.object(depth: 3) { (r, key) throws(CredentialError) in
                switch key {
                case "days":
                    var d: [Weekday] = []
                    try r.array(depth: 4) { (r) throws(CredentialError) in
                        let name = try r.string()
                        guard let day = Weekday(rawValue: name) else { throw r.fail("'\(name)' is not a day") }
                        d.append(day)
                    }
                    days = d
                case "start", "end":
                    let text = try r.string()
                    guard let t = try? LocalTime(parsing: text) else {
                        throw r.fail("'\(text)' is not a time of day: HH:MM, 00:00 to 24:00")
                    }
                    if key == "start" { start = t } else { end = t }
                default: try r.skipValue(depth: 4)
                }
            }
            guard let days, let start, let end else { throw r.fail("a schedule window needs days, start and end") }
            windows.append(ScheduleWindow(days: days, start: start, end: end))
        }
        return windows
    }
}
