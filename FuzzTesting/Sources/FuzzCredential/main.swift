import CFuzzerDriver
import Crypto
import Foundation
import WardenCore
import WardenWire

/// The credential parser (CredentialParser + StrictJSONReader) on arbitrary input, two ways: the bytes as a whole
/// token, and the bytes as the claims JSON inside a token (so the fuzzer reaches the JSON reader without having to
/// find valid base64url first). Must throw or succeed, never trap; a parsed token must verify or be refused.
let authority = try! P256.Signing.PrivateKey(rawRepresentation: [UInt8](repeating: 7, count: 32))
let verifier = CredentialVerifier(authority: AuthorityKeySet(["fuzz": authority.publicKey]))
let header = Base64URL.encode(Array(#"{"alg":"ES256","kid":"fuzz","typ":"JWT"}"#.utf8))

func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    _ = try? CredentialParser.parse(bytes)
    _ = try? verifier.verify(String(decoding: bytes, as: UTF8.self))
    // The bytes as the claims, signed for real: the whole path to a `Credential` (claim semantics included).
    let input = header + "." + Base64URL.encode(bytes)
    if let signature = try? authority.signature(for: Array(input.utf8)) {
        let token = input + "." + Base64URL.encode(signature.rawRepresentation)
        if let c = try? verifier.verify(token) {
            precondition(c.keyID == "fuzz" && c.notBefore <= c.expires, "a verified credential keeps its invariants")
        }
    }
    return 0
}

@_cdecl("FuzzCredential_main")
func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var c = argc
    var v = argv
    return LLVMFuzzerRunDriver(&c, &v) { data, size in fuzz(data, size) }
}
