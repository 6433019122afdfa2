import WardenWire

/// Reads a compact JWS credential (`header.claims.signature`) without Foundation's `JSONDecoder`: `CompactJWS` (strict
/// base64url and header), then `StrictJSONReader` walking exactly the `CredentialClaims` schema. This is the decision
/// path's parser: with it `CredentialVerifier.verify` costs ~65 µs instead of ~120 µs, almost all of it the ES256
/// check (docs/benchmarks.md). jwt-kit stays the issuing side and the test oracle (`CredentialParserOracleTests`:
/// the same claims for every credential the issuer writes).
///
/// It checks what jwt-kit's parse + `JSONDecoder` checked, as `.malformed`, in the same order (so a token gets the same
/// `JWSError` code from both): the three parts decode, the header is a JSON object, the claims have every
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
    /// A parsed, not yet verified credential (`CompactJWS.Parsed` with the claims as its payload).
    public typealias Parsed = CompactJWS.Parsed<CredentialClaims>

    public static func parse(_ token: [UInt8]) throws(JWSError) -> Parsed {
        try CompactJWS.parse(token, what: "credential") { (json) throws(JWSError) in try claims(json) }
    }

    /// The claims, exactly the `CredentialClaims` schema.
    public static func claims(_ json: [UInt8]) throws(JWSError) -> CredentialClaims {
        var r = try StrictJSONReader(json, path: "claims")
        var iss: String?
        var sub: String?
        var jti: String?
        var iat: Int64?
        var nbf: Int64?
        var exp: Int64?
        var cnf: CredentialClaims.Confirmation?
        var doors: [String]?
        var groups: [String]?
        var sched: [ScheduleWindow]?
        var ext: Bool?
        try r.object { (r, key) throws(JWSError) in
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
            throw JWSError(.malformed, "claims: missing \(missing.joined(separator: ", "))")
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

    private static func strings(_ r: inout StrictJSONReader) throws(JWSError) -> [String] {
        var out: [String] = []
        try r.array(depth: 2) { (r) throws(JWSError) in out.append(try r.string()) }
        return out
    }

    private static func confirmation(
        _ r: inout StrictJSONReader
    ) throws(JWSError)
        -> CredentialClaims.Confirmation
    {
        var jwk: CredentialClaims.HolderJWK?
        try r.object(depth: 2) { (r, key) throws(JWSError) in
            guard key == "jwk" else { return try r.skipValue(depth: 3) }
            var kty: String?
            var crv: String?
            var x: String?
            var y: String?
            try r.object(depth: 3) { (r, key) throws(JWSError) in
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

    private static func schedule(_ r: inout StrictJSONReader) throws(JWSError) -> [ScheduleWindow] {
        var windows: [ScheduleWindow] = []
        try r.array(depth: 2) { (r) throws(JWSError) in
            var days: [Weekday]?
            var start: LocalTime?
            var end: LocalTime?
            try r.object(depth: 3) { (r, key) throws(JWSError) in
                switch key {
                case "days":
                    var d: [Weekday] = []
                    try r.array(depth: 4) { (r) throws(JWSError) in
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
