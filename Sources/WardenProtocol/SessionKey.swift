import Crypto

/// One direction's AES-256-GCM key of a session (lock-to-phone or phone-to-lock). A type, not bytes, so a key can
/// never be passed where a nonce or a transcript is expected, and a lock-to-phone key never seals phone-to-lock.
public struct SessionKey: Sendable, Equatable {
    let key: SymmetricKey

    init(_ bytes: some Sequence<UInt8>) { key = SymmetricKey(data: Array(bytes)) }

    /// The raw key, for test vectors only.
    public var bytes: [UInt8] { key.withUnsafeBytes { Array($0) } }
}
