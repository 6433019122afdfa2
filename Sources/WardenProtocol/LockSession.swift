import Crypto
import Foundation

/// The lock's side of one key presentation, I/O-free (docs/protocol.md). Frames in, actions out; it never throws and
/// never traps on peer input: every failure becomes an ERROR frame with a result code, then `.close`. It does not
/// decide access: on a well-formed PRESENT it asks its owner to `.evaluate` the credential, with `holderProofValid`
/// to check the holder's transcript signature, and the owner answers with `complete`.
public struct LockSession: Sendable {
    public enum Action: Sendable, Equatable {
        case send([UInt8])
        /// Decide on this credential (compact JWS); then call `complete`.
        case evaluate(credential: String)
        case close
    }

    enum State: Sendable { case awaitingHello, awaitingPresent, awaitingDecision, done }

    let certificate: [UInt8]
    let deviceKey: any MessageSigner
    let ephemeral: P256.KeyAgreement.PrivateKey
    let nonce: SessionNonce
    var state = State.awaitingHello
    var helloFrame: [UInt8] = []
    var lockHelloFrame: [UInt8] = []
    var keys: HandshakeCrypto.SessionKeys?
    var credential: [UInt8] = []
    var holderSignature: [UInt8] = []
    /// Why the session failed, for the audit record (nil while fine).
    public private(set) var failure: ProtocolError?
    /// Whether a PRESENT arrived (after LOCK_HELLO): only then does a failure count against the presenter
    /// (docs/protocol.md §14); earlier endings count against the lock's global budget alone.
    public private(set) var receivedPresent = false

    public init(
        certificate: LockCertificate,
        deviceKey: any MessageSigner,
        ephemeral: P256.KeyAgreement.PrivateKey = .init(),
        nonce: SessionNonce = .lock()
    ) {
        self.certificate = certificate.bytes
        self.deviceKey = deviceKey
        self.ephemeral = ephemeral
        self.nonce = nonce
    }

    public var isDone: Bool { state == .done }

    public mutating func receive(_ bytes: [UInt8]) -> [Action] {
        do {
            let frame = try Frame.parse(bytes)
            switch (state, frame.type) {
            case (.awaitingHello, .hello): return [.send(try hello(frame, raw: bytes))]
            case (.awaitingPresent, .present):
                receivedPresent = true
                return [.evaluate(credential: try present(frame))]
            default: throw ProtocolError(.unexpectedMessage, "\(frame.type) not expected now")
            }
        } catch let e as ProtocolError {
            return fail(e)
        } catch {
            return fail(ProtocolError(.internalError, "\(error)"))
        }
    }

    /// The owner's decision; sends RESULT (encrypted) and closes.
    public mutating func complete(code: ResultCode, unlockMillis: UInt32) -> [Action] {
        guard state == .awaitingDecision, let keys else {
            return fail(ProtocolError(.unexpectedMessage, "no decision pending"))
        }
        state = .done
        let plain: [UInt8] = [
            code.rawValue, UInt8(unlockMillis >> 24 & 0xFF), UInt8(unlockMillis >> 16 & 0xFF),
            UInt8(unlockMillis >> 8 & 0xFF), UInt8(unlockMillis & 0xFF),
        ]
        let length = plain.count + HandshakeCrypto.tagBytes
        guard
            let sealed = try? HandshakeCrypto.seal(
                plain,
                key: keys.lockToPhone,
                counter: .result,
                aad: [FrameType.result.rawValue, UInt8(length >> 8), UInt8(length & 0xFF)]
            )
        else {
            return fail(ProtocolError(.internalError, "sealing RESULT failed"))
        }
        return [.send(Frame(.result, sealed).bytes), .close]
    }

    /// The presenter holds the credential's key: its signature covers this session's transcript.
    public func holderProofValid(_ key: P256.Signing.PublicKey) -> Bool {
        guard holderSignature.count == 64,
            let sig = try? P256.Signing.ECDSASignature(rawRepresentation: holderSignature)
        else { return false }
        return key.isValidSignature(
            sig,
            for: HandshakeCrypto.holderSignedMessage(
                hello: helloFrame,
                lockHello: lockHelloFrame,
                credential: credential
            )
        )
    }

    /// The session's time limit passed.
    public mutating func timedOut() -> [Action] { fail(ProtocolError(.timeout, "session timed out")) }

    private mutating func hello(_ frame: Frame, raw: [UInt8]) throws(ProtocolError) -> [UInt8] {
        guard let version = frame.payload.first else { throw ProtocolError(.badFrame, "empty HELLO") }
        guard version == HandshakeCrypto.version else {
            throw ProtocolError(
                .unsupportedVersion,
                "phone speaks version \(version); this lock speaks \(HandshakeCrypto.version)"
            )
        }
        guard frame.payload.count == 2 + 65 + HandshakeCrypto.phoneNonceBytes else {
            throw ProtocolError(
                .badFrame,
                "HELLO is \(frame.payload.count) bytes, expected \(2 + 65 + HandshakeCrypto.phoneNonceBytes)"
            )
        }
        let phoneEphemeral = Array(frame.payload[2..<67])
        let shared = try HandshakeCrypto.ecdhLock(ephemeral, phoneEphemeral)
        let lockEphemeral = Array(ephemeral.publicKey.x963Representation)
        helloFrame = raw
        let keys = HandshakeCrypto.deriveKeys(
            shared: shared,
            hello: raw,
            lockEphemeral: lockEphemeral,
            lockNonce: nonce
        )
        let signed = HandshakeCrypto.lockSignedMessage(
            hello: raw,
            lockEphemeral: lockEphemeral,
            lockNonce: nonce,
            certificate: certificate
        )
        let sig: [UInt8]
        do { sig = try deviceKey.sign(signed) } catch {
            throw ProtocolError(.internalError, "device key could not sign")
        }
        var plain: [UInt8] = [UInt8(certificate.count >> 8), UInt8(certificate.count & 0xFF)]
        plain += certificate + sig
        let length = 65 + nonce.bytes.count + plain.count + HandshakeCrypto.tagBytes
        let aad =
            [FrameType.lockHello.rawValue, UInt8(length >> 8), UInt8(length & 0xFF)] + lockEphemeral + nonce.bytes
        let sealed = try HandshakeCrypto.seal(plain, key: keys.lockToPhone, counter: .lockHello, aad: aad)
        lockHelloFrame = Frame(.lockHello, lockEphemeral + nonce.bytes + sealed).bytes
        self.keys = keys
        state = .awaitingPresent
        return lockHelloFrame
    }

    private mutating func present(_ frame: Frame) throws(ProtocolError) -> String {
        guard let keys else { throw ProtocolError(.unexpectedMessage, "no session") }
        let aad = [FrameType.present.rawValue, UInt8(frame.payload.count >> 8), UInt8(frame.payload.count & 0xFF)]
        let plain = try HandshakeCrypto.open(frame.payload, key: keys.phoneToLock, counter: .present, aad: aad)
        guard plain.count >= 2 else { throw ProtocolError(.badFrame, "PRESENT body too short") }
        let n = Int(plain[0]) << 8 | Int(plain[1])
        guard plain.count == 2 + n + 64 else { throw ProtocolError(.badFrame, "PRESENT body length does not match") }
        credential = Array(plain[2..<(2 + n)])
        holderSignature = Array(plain[(2 + n)...])
        guard let token = String(validating: credential, as: UTF8.self) else {
            throw ProtocolError(.malformedCredential, "credential is not UTF-8")
        }
        state = .awaitingDecision
        return token
    }

    private mutating func fail(_ error: ProtocolError) -> [Action] {
        failure = error
        state = .done
        return [.send(Frame(.error, [error.code.rawValue]).bytes), .close]
    }
}
