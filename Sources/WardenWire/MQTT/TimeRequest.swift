/// A board asks for signed time: a fresh 16-byte nonce (base64url) the answer must carry back.
public struct TimeRequest: Codable, Sendable, Equatable {
    public var nonce: String
    public init(nonce: String) { self.nonce = nonce }
}
