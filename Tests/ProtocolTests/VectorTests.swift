import Crypto
import Foundation
import Testing
import WardenController
import WardenProtocol

/// The code against the checked-in vectors, in both directions: the phone must produce the vector's HELLO and
/// PRESENT from the vector's LOCK_HELLO, and the lock the vector's LOCK_HELLO and RESULT from the vector's HELLO
/// and PRESENT. Any change to framing, key schedule, labels, nonces or signature inputs breaks these.
@Suite struct VectorTests {
    let v: Vector
    init() throws { v = try Vector() }

    var authority: P256.Signing.PublicKey { try! P256.Signing.PublicKey(x963Representation: v["authority_public"]) }
    var now: UInt64 { UInt64(v.text("now_unix"))! }

    @Test func keyScheduleMatches() throws {
        let phoneEph = try P256.KeyAgreement.PrivateKey(rawRepresentation: v["phone_ephemeral_private"])
        let lockEph = try P256.KeyAgreement.PrivateKey(rawRepresentation: v["lock_ephemeral_private"])
        let shared = try phoneEph.sharedSecretFromKeyAgreement(with: lockEph.publicKey)
        #expect(shared.withUnsafeBytes { Array($0) } == v["ecdh_shared_x"])
        let keys = HandshakeCrypto.deriveKeys(
            shared: shared,
            hello: v["hello"],
            lockEphemeral: Array(lockEph.publicKey.x963Representation),
            lockNonce: SessionNonce(v["lock_nonce"], length: HandshakeCrypto.lockNonceBytes)!
        )
        #expect(keys.lockToPhone.bytes == v["key_lock_to_phone"])
        #expect(keys.phoneToLock.bytes == v["key_phone_to_lock"])
        #expect(
            Array(
                SHA256.hash(
                    data: HandshakeCrypto.saltLabel + v["hello"] + Array(lockEph.publicKey.x963Representation)
                        + v["lock_nonce"]
                )
            ) == v["hkdf_salt"]
        )
    }

    @Test func signaturesInTheVectorVerify() throws {
        let device = try P256.Signing.PublicKey(x963Representation: v["device_public"])
        let holder = try P256.Signing.PublicKey(x963Representation: v["holder_public"])
        #expect(
            device.isValidSignature(
                try P256.Signing.ECDSASignature(rawRepresentation: v["lock_signature"]),
                for: v["lock_signed_message"]
            )
        )
        #expect(
            holder.isValidSignature(
                try P256.Signing.ECDSASignature(rawRepresentation: v["holder_signature"]),
                for: v["holder_signed_message"]
            )
        )
        let cert = try LockCertificate.parse(v["lock_certificate"])
        try cert.verify(authority: ["org-2026": authority], expectedLockID: "lock-7f3a91", now: now)
    }

    @Test func phoneProducesTheVectorBytes() throws {
        let holder = FixedSigner(
            publicKey: try P256.Signing.PublicKey(x963Representation: v["holder_public"]),
            expectedMessage: v["holder_signed_message"],
            signature: v["holder_signature"]
        )
        var phone = PhoneSession(
            lockID: "lock-7f3a91",
            credential: Array(v.text("credential_utf8").utf8),
            holder: holder,
            authority: ["org-2026": authority],
            now: now,
            ephemeral: try P256.KeyAgreement.PrivateKey(rawRepresentation: v["phone_ephemeral_private"]),
            nonce: SessionNonce(v["phone_nonce"], length: HandshakeCrypto.phoneNonceBytes)!
        )
        #expect(phone.hello() == v["hello"])
        #expect(try phone.receive(v["lock_hello"]).frame == v["present"])
        #expect(try phone.receive(v["result"]).outcome == .init(code: .granted, unlockMillis: 5000))
    }

    @Test func lockProducesTheVectorBytes() throws {
        let device = FixedSigner(
            publicKey: try P256.Signing.PublicKey(x963Representation: v["device_public"]),
            expectedMessage: v["lock_signed_message"],
            signature: v["lock_signature"]
        )
        var lock = LockSession(
            certificate: try LockCertificate.parse(v["lock_certificate"]),
            deviceKey: device,
            ephemeral: try P256.KeyAgreement.PrivateKey(rawRepresentation: v["lock_ephemeral_private"]),
            nonce: SessionNonce(v["lock_nonce"], length: HandshakeCrypto.lockNonceBytes)!
        )
        #expect(lock.receive(v["hello"]) == [.send(v["lock_hello"])])
        #expect(lock.receive(v["present"]) == [.evaluate(credential: v.text("credential_utf8"))])
        #expect(lock.holderProofValid(try P256.Signing.PublicKey(x963Representation: v["holder_public"])))
        #expect(lock.complete(code: .granted, unlockMillis: 5000) == [.send(v["result"]), .close])
    }

    @Test func exchangeFitsTheBudget() {
        let total = v["hello"].count + v["lock_hello"].count + v["present"].count + v["result"].count
        #expect(total <= 1100, "a typical exchange must stay about 1 KB, is \(total)")
    }
}
