import Crypto
import Foundation
import Testing

@testable import WardenCLI

/// A support bundle leaves the board: these try to get a secret through the redactor.
@Suite struct SupportRedactorTests {
    let key = P256.Signing.PrivateKey()
    let password = "correct-horse-battery-staple-42"

    var redactor: SupportRedactor { SupportRedactor(knownSecrets: [key.pemRepresentation, password + "\n"]) }

    @Test func knownSecretsGoWhereverTheyAppear() {
        let body = key.pemRepresentation.split(separator: "\n")[1]
        let text = """
            pasted: \(key.pemRepresentation)
            broker said: bad password \(password) for lock-1
            half a key: \(body)
            """
        let out = redactor.redact(text)
        #expect(!out.contains(password))
        #expect(!out.contains(body))
        #expect(!out.contains("PRIVATE KEY-----\n"))
        #expect(out.contains("broker said: bad password <redacted> for lock-1"))
    }

    @Test func secretShapedTextGoesEvenWhenTheBoardDidNotKnowIt() {
        let other = P256.Signing.PrivateKey().pemRepresentation
        let token = "wdn_tok123_" + String(repeating: "A", count: 43)
        let text = """
            \(other)
            sync:
              password: hunter2hunter2
              password_file: /etc/warden/keys/broker.password
              "client_secret": "s3cr3t-value"
            GET /v1/board/provision?token=abcdefabcdefabcdef&door=front
            Authorization: Bearer eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl
            wardenctl provision --cloud https://c --token Zm9vYmFyYmF6cXV4cXV1eGZvb2Jhcg --board rpi4
            api token \(token)
            enrollment wen_\(String(repeating: "B", count: 43)) upload wsb_\(String(repeating: "-C", count: 20))
            """
        let out = redactor.redact(text)
        for secret in [
            "PRIVATE KEY-----", String(other.split(separator: "\n")[1]), "hunter2hunter2", "s3cr3t-value",
            "abcdefabcdefabcdef", "eyJhbGci",
            "Zm9vYmFyYmF6", token, String(repeating: "B", count: 43), String(repeating: "-C", count: 20),
        ] {
            #expect(!out.contains(secret), "\(secret) is still in the output")
        }
        #expect(out.contains("password_file: /etc/warden/keys/broker.password"), "a path to a secret is kept")
        #expect(out.contains("door=front"), "the rest of the line stays")
        #expect(out.contains("--board rpi4"))
    }

    @Test func ordinaryTextIsLeftAlone() {
        let text = """
            door: { id: front-door, lock_id: lock-7f3a91 }
            #12 2026-12-03T10:00:00.000Z access_granted user=ada credential=cred-ada
            PASS  store  quick_check ok
            """
        #expect(redactor.redact(text) == text)
    }
}
