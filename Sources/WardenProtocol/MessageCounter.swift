/// The per-direction message counter of a session, from which each AES-GCM nonce is made (four zero bytes, then the
/// counter big-endian). Each message of protocol version 1 has its fixed counter, so a message replayed into another
/// slot does not authenticate.
public struct MessageCounter: Sendable, Equatable {
    public let value: UInt64

    public init(_ value: UInt64) { self.value = value }

    /// LOCK_HELLO's sealed identity (lock to phone).
    public static let lockHello = MessageCounter(0)
    /// PRESENT (phone to lock).
    public static let present = MessageCounter(0)
    /// RESULT (lock to phone).
    public static let result = MessageCounter(1)

    /// The 12-byte AES-GCM nonce.
    var nonce: [UInt8] {
        var n: [UInt8] = [0, 0, 0, 0]
        n.appendU64(value)
        return n
    }
}
