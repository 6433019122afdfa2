import Crypto
import Foundation

/// The phone's side of a key presentation, I/O-free: feed it the lock's frames, send what it returns.
///
///     var s = PhoneSession(...);  send(s.hello())
///     send(try s.receive(lockHello).frame!)       // after checking the lock's certificate and signature
///     let outcome = try s.receive(result).outcome! // granted, or the reason
///
/// 1.5 round trips: HELLO ->, <- LOCK_HELLO, PRESENT -> (the lock decides here), <- RESULT.
public struct PhoneSession: Sendable {
    public struct Outcome: Sendable, Equatable {
        public var code: ResultCode
        /// How long the lock stays unlocked (0 when denied).
        public var unlockMillis: UInt32
        public var granted: Bool { code == .granted }
        public init(code: ResultCode, unlockMillis: UInt32) {
            self.code = code
            self.unlockMillis = unlockMillis
        }
    }

    public enum Step: Sendable, Equatable {
        case send([UInt8])
        case finished(Outcome)

        public var frame: [UInt8]? { if case .send(let f) = self { return f } else { return nil } }
        public var outcome: Outcome? { if case .finished(let o) = self { return o } else { return nil } }
    }

    enum State: Sendable { case start, awaitingLockHello, awaitingResult, done }

    public let lockID: String
    let credential: [UInt8]
    let holder: any MessageSigner
    let authority: [String: P256.Signing.PublicKey]
    let now: UInt64
    let ephemeral: P256.KeyAgreement.PrivateKey
    let nonce: SessionNonce
    var state = State.start
    var helloFrame: [UInt8] = []
    var keys: HandshakeCrypto.SessionKeys?

    /// - Parameters:
    ///   - credential: the authority-signed credential (compact JWS bytes), sent only encrypted, after the lock proved itself.
    ///   - authority: the org authority keys that may sign lock certificates.
    ///   - now: the phone's time (unix seconds) for the certificate's validity.
    ///   - ephemeral, nonce: fresh per session; fixed only in test vectors.
    public init(
        lockID: String,
        credential: [UInt8],
        holder: any MessageSigner,
        authority: [String: P256.Signing.PublicKey],
        now: UInt64,
        ephemeral: P256.KeyAgreement.PrivateKey = .init(),
        nonce: SessionNonce = .phone()
    ) {
        self.lockID = lockID
        self.credential = credential
        self.holder = holder
        self.authority = authority
        self.now = now
        self.ephemeral = ephemeral
        self.nonce = nonce
    }

    /// HELLO: version (1) | flags (1) = 0 | phone ephemeral public key (65) | phone nonce (16).
    public mutating func hello() -> [UInt8] {
        precondition(state == .start, "hello() is the first message")
        state = .awaitingLockHello
        helloFrame =
            Frame(.hello, [HandshakeCrypto.version, 0] + Array(ephemeral.publicKey.x963Representation) + nonce.bytes)
            .bytes
        return helloFrame
    }

    public mutating func receive(_ bytes: [UInt8]) throws(ProtocolError) -> Step {
        let frame = try Frame.parse(bytes)
        if frame.type == .error {
            state = .done
            let code = frame.payload.first.map(ResultCode.init(rawValue:)) ?? .badFrame
            throw ProtocolError(code, "lock reported an error before the session was secured (unauthenticated)")
        }
        switch (state, frame.type) {
        case (.awaitingLockHello, .lockHello): return .send(try lockHello(frame, raw: bytes))
        case (.awaitingResult, .result): return .finished(try result(frame))
        default:
            state = .done
            throw ProtocolError(.unexpectedMessage, "unexpected \(frame.type) message")
        }
    }

    private mutating func lockHello(_ frame: Frame, raw: [UInt8]) throws(ProtocolError) -> [UInt8] {
        state = .done  // any failure below ends the session
        var r = ByteReader(frame.payload)
        let lockEphemeral = try r.take(65, "lock ephemeral key")
        let lockNonce = SessionNonce(unchecked: try r.take(HandshakeCrypto.lockNonceBytes, "lock nonce"))
        let sealed = try r.take(r.remaining, "sealed lock identity")
        let shared = try HandshakeCrypto.ecdh(ephemeral, lockEphemeral)
        let keys = HandshakeCrypto.deriveKeys(
            shared: shared,
            hello: helloFrame,
            lockEphemeral: lockEphemeral,
            lockNonce: lockNonce
        )
        let aad = Frame.header(.lockHello, frame.payload.count) + lockEphemeral + lockNonce.bytes
        var body = ByteReader(try HandshakeCrypto.open(sealed, key: keys.lockToPhone, counter: .lockHello, aad: aad))
        let certBytes = try body.take(try body.u16("certificate length"), "certificate")
        let lockSig = try body.take(64, "lock signature")
        try body.end("lock identity")
        let cert = try LockCertificate.parse(certBytes)
        try cert.verify(authority: authority, expectedLockID: lockID, now: now)
        let signed = HandshakeCrypto.lockSignedMessage(
            hello: helloFrame,
            lockEphemeral: lockEphemeral,
            lockNonce: lockNonce,
            certificate: certBytes
        )
        guard Signatures.verify(lockSig, signed, cert.deviceKey) else {
            throw ProtocolError(
                .lockSignatureInvalid,
                "the lock's handshake signature does not verify: not the real door"
            )
        }
        // The lock is authentic: present the credential, bound to this transcript by the holder signature.
        let holderSig: [UInt8]
        do {
            holderSig = try holder.sign(
                HandshakeCrypto.holderSignedMessage(hello: helloFrame, lockHello: raw, credential: credential)
            )
        } catch { throw ProtocolError(.internalError, "holder key could not sign: \(error)") }
        guard holderSig.count == 64 else {
            throw ProtocolError(.internalError, "holder signature must be 64 bytes r||s")
        }
        var plain: [UInt8] = []
        plain.appendU16(credential.count)
        plain += credential + holderSig
        let length = plain.count + HandshakeCrypto.tagBytes
        guard length <= Frame.maxPayload else { throw ProtocolError(.badFrame, "credential too large for one frame") }
        let sealedPresent = try HandshakeCrypto.seal(
            plain,
            key: keys.phoneToLock,
            counter: .present,
            aad: Frame.header(.present, length)
        )
        self.keys = keys
        state = .awaitingResult
        return Frame(.present, sealedPresent).bytes
    }

    private mutating func result(_ frame: Frame) throws(ProtocolError) -> Outcome {
        state = .done
        guard let keys else { throw ProtocolError(.unexpectedMessage, "no session") }
        var r = ByteReader(
            try HandshakeCrypto.open(
                frame.payload,
                key: keys.lockToPhone,
                counter: .result,
                aad: Frame.header(.result, frame.payload.count)
            )
        )
        let code = ResultCode(rawValue: try r.u8("result code"))
        let ms = try r.take(4, "unlock time").reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        try r.end("result")
        return Outcome(code: code, unlockMillis: ms)
    }
}
