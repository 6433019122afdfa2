import Crypto
import Foundation
import Testing
import WardenController
import WardenProtocol

/// Writes Vectors/handshake-v1.json when WARDEN_WRITE_VECTORS=1 (run once; the file is checked in and the other
/// tests check the code against it). Without the variable it only checks the generator still agrees with the file.
@Suite struct VectorGenerationTests {
    @Test func generateOrConfirm() async throws {
        let authority = try P256.Signing.PrivateKey(rawRepresentation: scalar("warden vector authority"))
        let device = try P256.Signing.PrivateKey(rawRepresentation: scalar("warden vector device"))
        let holder = try P256.Signing.PrivateKey(rawRepresentation: scalar("warden vector holder"))
        let phoneEph = try P256.KeyAgreement.PrivateKey(rawRepresentation: scalar("warden vector phone ephemeral"))
        let lockEph = try P256.KeyAgreement.PrivateKey(rawRepresentation: scalar("warden vector lock ephemeral"))
        let phoneNonce = Array(scalar("warden vector phone nonce").prefix(16))
        let lockNonce = scalar("warden vector lock nonce")
        let now: UInt64 = 1_790_000_000
        let write = ProcessInfo.processInfo.environment["WARDEN_WRITE_VECTORS"] == "1"
        guard write else {
            // Confirm the file's fixed inputs are the ones derived here.
            let v = try Vector()
            #expect(v["authority_private"] == Array(authority.rawRepresentation))
            #expect(v["phone_ephemeral_private"] == Array(phoneEph.rawRepresentation))
            #expect(v["lock_nonce"] == lockNonce)
            return
        }
        let cert = try LockCertificate.issue(
            lockID: "lock-7f3a91",
            deviceKey: device.publicKey,
            notBefore: now - 86_400,
            notAfter: now + 86_400 * 365,
            keyID: "org-2026",
            authority: authority
        )
        let credential = Array(
            try await WardenCoreBridge.credential(authority: authority, holder: holder.publicKey, now: now).utf8
        )
        var phone = PhoneSession(
            lockID: "lock-7f3a91",
            credential: credential,
            holder: holder,
            authority: ["org-2026": authority.publicKey],
            now: now,
            ephemeral: phoneEph,
            nonce: SessionNonce(phoneNonce, length: HandshakeCrypto.phoneNonceBytes)!
        )
        var lock = LockSession(
            certificate: cert,
            deviceKey: device,
            ephemeral: lockEph,
            nonce: SessionNonce(lockNonce, length: HandshakeCrypto.lockNonceBytes)!
        )
        let hello = phone.hello()
        guard case .send(let lockHello) = lock.receive(hello).first else {
            Issue.record("no LOCK_HELLO")
            return
        }
        let present = try phone.receive(lockHello).frame!
        guard case .evaluate(let token) = lock.receive(present).first else {
            Issue.record("no evaluate")
            return
        }
        #expect(lock.holderProofValid(holder.publicKey))
        guard case .send(let result) = lock.complete(code: .granted, unlockMillis: 5000).first else {
            Issue.record("no RESULT")
            return
        }
        #expect(try phone.receive(result).outcome == .init(code: .granted, unlockMillis: 5000))

        // Recover the intermediate values for the document.
        let lockEphPub = Array(lockEph.publicKey.x963Representation)
        let shared = try phoneEph.sharedSecretFromKeyAgreement(with: lockEph.publicKey).withUnsafeBytes { Array($0) }
        let salt = Array(SHA256.hash(data: HandshakeCrypto.saltLabel + hello + lockEphPub + lockNonce))
        let keys = HandshakeCrypto.deriveKeys(
            shared: try phoneEph.sharedSecretFromKeyAgreement(with: lockEph.publicKey),
            hello: hello,
            lockEphemeral: lockEphPub,
            lockNonce: SessionNonce(lockNonce, length: 32)!
        )
        let lockSigned = HandshakeCrypto.lockSignedMessage(
            hello: hello,
            lockEphemeral: lockEphPub,
            lockNonce: SessionNonce(lockNonce, length: 32)!,
            certificate: cert.bytes
        )
        let lockBody = try HandshakeCrypto.open(
            Array(lockHello[(3 + 65 + 32)...]),
            key: keys.lockToPhone,
            counter: .lockHello,
            aad: Array(lockHello[0..<(3 + 65 + 32)])
        )
        let holderSigned = HandshakeCrypto.holderSignedMessage(
            hello: hello,
            lockHello: lockHello,
            credential: Array(token.utf8)
        )
        let presentBody = try HandshakeCrypto.open(
            Array(present[3...]),
            key: keys.phoneToLock,
            counter: .present,
            aad: Array(present[0..<3])
        )
        let out: [String: String] = [
            "comment":
                "Warden key-presentation protocol v1 test vectors (docs/protocol.md). Hex unless noted. ECDSA signatures are randomised: they were produced once and are fixed here with the exact message each covers.",
            "now_unix": String(now), "lock_id_utf8": "lock-7f3a91", "authority_kid_utf8": "org-2026",
            "authority_private": Hex.encode(authority.rawRepresentation),
            "authority_public": Hex.encode(authority.publicKey.x963Representation),
            "device_private": Hex.encode(device.rawRepresentation),
            "device_public": Hex.encode(device.publicKey.x963Representation),
            "holder_private": Hex.encode(holder.rawRepresentation),
            "holder_public": Hex.encode(holder.publicKey.x963Representation),
            "phone_ephemeral_private": Hex.encode(phoneEph.rawRepresentation), "phone_nonce": Hex.encode(phoneNonce),
            "lock_ephemeral_private": Hex.encode(lockEph.rawRepresentation), "lock_nonce": Hex.encode(lockNonce),
            "lock_certificate": Hex.encode(cert.bytes), "credential_utf8": token,
            "hello": Hex.encode(hello), "ecdh_shared_x": Hex.encode(shared), "hkdf_salt": Hex.encode(salt),
            "key_lock_to_phone": Hex.encode(keys.lockToPhone.bytes),
            "key_phone_to_lock": Hex.encode(keys.phoneToLock.bytes),
            "lock_signed_message": Hex.encode(lockSigned), "lock_signature": Hex.encode(lockBody.suffix(64)),
            "lock_hello": Hex.encode(lockHello),
            "holder_signed_message": Hex.encode(holderSigned), "holder_signature": Hex.encode(presentBody.suffix(64)),
            "present": Hex.encode(present), "result_code": "00", "unlock_ms": "5000", "result": Hex.encode(result),
        ]
        let data = try JSONSerialization.data(withJSONObject: out, options: [.prettyPrinted, .sortedKeys])
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "Vectors/handshake-v1.json"
        )
        try data.write(to: path)
    }
}
