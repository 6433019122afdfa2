import Crypto
import Foundation
import Testing
import WardenController
import WardenProtocol

/// Attacks on the handshake itself, lock and phone state machines wired back to back (no sockets).
@Suite struct SessionSecurityTests {
    let authority = P256.Signing.PrivateKey()
    let device = P256.Signing.PrivateKey()
    let holder = P256.Signing.PrivateKey()
    let now: UInt64 = 1_790_000_000
    var cert: LockCertificate {
        try! LockCertificate.issue(
            lockID: "lock-1",
            deviceKey: device.publicKey,
            notBefore: now - 10,
            notAfter: now + 1000,
            keyID: "org",
            authority: authority
        )
    }

    func phone(lock: String = "lock-1", trust: P256.Signing.PrivateKey? = nil) -> PhoneSession {
        PhoneSession(
            lockID: lock,
            credential: Array("a.b.c".utf8),
            holder: holder,
            authority: ["org": (trust ?? authority).publicKey],
            now: now
        )
    }

    func errorCode(_ actions: [LockSession.Action]) -> ResultCode? {
        guard case .send(let f) = actions.first, let frame = try? Frame.parse(f), frame.type == .error else {
            return nil
        }
        return ResultCode(rawValue: frame.payload[0])
    }

    @Test func replayedRecordedSessionFails() throws {
        var p = phone()
        var lock1 = LockSession(certificate: cert, deviceKey: device)
        let hello = p.hello()
        guard case .send(let lh) = lock1.receive(hello).first else {
            Issue.record()
            return
        }
        let present = try p.receive(lh).frame!
        // An eavesdropper replays HELLO and PRESENT to the lock later: a new lock ephemeral and nonce, so PRESENT no longer opens.
        var lock2 = LockSession(certificate: cert, deviceKey: device)
        _ = lock2.receive(hello)
        #expect(errorCode(lock2.receive(present)) == .decryptFailed)
    }

    @Test func reflectedLockHelloIsRefusedByTheLock() throws {
        var p = phone()
        var lock = LockSession(certificate: cert, deviceKey: device)
        guard case .send(let lh) = lock.receive(p.hello()).first else {
            Issue.record()
            return
        }
        #expect(errorCode(lock.receive(lh)) == .unexpectedMessage)
    }

    @Test func reflectedResultCannotBePassedOffAsPresent() throws {
        // Keys are per direction: a lock-to-phone message never opens as phone-to-lock.
        var p = phone()
        var lock = LockSession(certificate: cert, deviceKey: device)
        guard case .send(let lh) = lock.receive(p.hello()).first else {
            Issue.record()
            return
        }
        let present = try p.receive(lh).frame!
        _ = lock.receive(present)
        guard case .send(let result) = lock.complete(code: .granted, unlockMillis: 1).first else {
            Issue.record()
            return
        }
        var lock2 = LockSession(certificate: cert, deviceKey: device)
        var p2 = phone()
        _ = lock2.receive(p2.hello())
        var forged = result
        forged[0] = FrameType.present.rawValue
        #expect(errorCode(lock2.receive(forged)) == .decryptFailed)
    }

    @Test func everyTamperedByteOfPresentIsCaught() throws {
        var p = phone()
        var lock = LockSession(certificate: cert, deviceKey: device)
        guard case .send(let lh) = lock.receive(p.hello()).first else {
            Issue.record()
            return
        }
        let present = try p.receive(lh).frame!
        for i in stride(from: 3, to: present.count, by: 37) {
            var l = lock
            var t = present
            t[i] ^= 0x01
            #expect(errorCode(l.receive(t)) == .decryptFailed, "byte \(i)")
        }
    }

    @Test func phoneRefusesAnImpostorLock() throws {
        // A lock key certified by another authority, or a real certificate replayed by a device without its key.
        let rogueAuthority = P256.Signing.PrivateKey()
        let rogueCert = try LockCertificate.issue(
            lockID: "lock-1",
            deviceKey: device.publicKey,
            notBefore: now - 10,
            notAfter: now + 1000,
            keyID: "org",
            authority: rogueAuthority
        )
        var p1 = phone()
        var l1 = LockSession(certificate: rogueCert, deviceKey: device)
        guard case .send(let lh1) = l1.receive(p1.hello()).first else {
            Issue.record()
            return
        }
        #expect(throws: ProtocolError.self) { try p1.receive(lh1) }
        var p2 = phone()
        var l2 = LockSession(certificate: cert, deviceKey: P256.Signing.PrivateKey())  // stolen cert, wrong key
        guard case .send(let lh2) = l2.receive(p2.hello()).first else {
            Issue.record()
            return
        }
        do {
            _ = try p2.receive(lh2)
            Issue.record("impostor accepted")
        } catch { #expect(error.code == .lockSignatureInvalid) }
        var p3 = phone(lock: "lock-2")  // the phone meant another door
        var l3 = LockSession(certificate: cert, deviceKey: device)
        guard case .send(let lh3) = l3.receive(p3.hello()).first else {
            Issue.record()
            return
        }
        do {
            _ = try p3.receive(lh3)
            Issue.record("wrong lock accepted")
        } catch { #expect(error.code == .wrongLock) }
    }

    @Test func holderProofFailsForAnotherKey() throws {
        var p = phone()
        var lock = LockSession(certificate: cert, deviceKey: device)
        guard case .send(let lh) = lock.receive(p.hello()).first else {
            Issue.record()
            return
        }
        _ = lock.receive(try p.receive(lh).frame!)
        #expect(lock.holderProofValid(holder.publicKey))
        #expect(!lock.holderProofValid(P256.Signing.PrivateKey().publicKey))
    }

    @Test(arguments: [
        [UInt8](), [0x01], [0x01, 0x00], [0x01, 0x00, 0x05, 0x01], [0x09, 0x00, 0x00],
        [0x01, 0xFF, 0xFF] + [UInt8](repeating: 0, count: 10),
        [0x01, 0x00, 0x53, 0x02] + [UInt8](repeating: 0, count: 82),
        [0x01, 0x00, 0x53, 0x01] + [UInt8](repeating: 0, count: 82),
    ])
    func malformedHelloGetsACodeNotACrash(_ bytes: [UInt8]) {
        var lock = LockSession(certificate: cert, deviceKey: device)
        let a = lock.receive(bytes)
        #expect(a.last == .close)
        #expect([.badFrame, .unsupportedVersion, .badKey].contains(errorCode(a)))
        #expect(lock.failure != nil)
    }
}
