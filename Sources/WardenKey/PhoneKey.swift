import Crypto
import WardenProtocol

/// What a phone app embeds: one credential and its holder key, presented to a lock over any frame transport
/// (CoreBluetooth's L2CAP channel on iOS, BluetoothSocket on Android, a development socket here). It runs
/// `PhoneSession` (WardenProtocol) to the end and reports the lock's answer; it never opens a transport itself, so
/// the same code serves every platform.
public struct PhoneKey: Sendable {
    /// The lock's answer and what the presentation cost on the air.
    public struct Presentation: Sendable, Equatable {
        public var outcome: PhoneSession.Outcome
        /// Bytes sent and received, frame headers included.
        public var bytes: Int
    }

    public let lockID: String
    public let credential: String
    public let holder: any MessageSigner
    public let authority: [String: P256.Signing.PublicKey]

    /// `authority` holds the keys that may sign this lock's certificate: the phone refuses a lock it cannot verify.
    public init(
        lockID: String,
        credential: String,
        holder: any MessageSigner,
        authority: [String: P256.Signing.PublicKey]
    ) {
        self.lockID = lockID
        self.credential = credential
        self.holder = holder
        self.authority = authority
    }

    /// Presents the credential over `channel` (not closed here). `now` is the phone's Unix time in seconds, for the
    /// lock certificate's validity. Throws `ProtocolError` when the lock fails a check or sends ERROR; rethrows
    /// the channel's error when the link drops.
    public func present(over channel: any FrameChannel, now: UInt64) async throws -> Presentation {
        var session = PhoneSession(
            lockID: lockID,
            credential: Array(credential.utf8),
            holder: holder,
            authority: authority,
            now: now
        )
        let hello = session.hello()
        var bytes = hello.count
        try await channel.send(hello)
        while true {
            let frame = try await channel.receive()
            bytes += frame.count
            switch try session.receive(frame) {
            case .send(let f):
                bytes += f.count
                try await channel.send(f)
            case .finished(let outcome):
                return Presentation(outcome: outcome, bytes: bytes)
            }
        }
    }
}
