/// A fresh random value one side contributes to a session's transcript: the phone's 16 bytes in HELLO, the lock's
/// 32 bytes in LOCK_HELLO. The length is part of the type's checks, so a nonce of the wrong size is not a nonce.
public struct SessionNonce: Sendable, Equatable {
    public let bytes: [UInt8]

    /// nil when `bytes` is not `length` long.
    public init?(_ bytes: [UInt8], length: Int) {
        guard bytes.count == length else { return nil }
        self.bytes = bytes
    }

    public static func random(length: Int) -> SessionNonce {
        var g = SystemRandomNumberGenerator()
        return SessionNonce(unchecked: (0..<length).map { _ in UInt8.random(in: 0...255, using: &g) })
    }

    /// A new phone nonce (HELLO).
    public static func phone() -> SessionNonce { random(length: HandshakeCrypto.phoneNonceBytes) }
    /// A new lock nonce (LOCK_HELLO).
    public static func lock() -> SessionNonce { random(length: HandshakeCrypto.lockNonceBytes) }

    init(unchecked bytes: [UInt8]) { self.bytes = bytes }
}
