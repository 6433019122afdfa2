/// `{"jws": "..."}`: how a signed object (access-list update, command, time answer) travels. The envelope carries
/// no authority of its own; the JWS inside is verified by the receiver.
public struct SignedEnvelope: Codable, Sendable, Equatable {
    public var jws: String
    public init(jws: String) { self.jws = jws }
}
