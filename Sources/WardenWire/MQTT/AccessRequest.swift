/// A board asks for a signed snapshot of its access list: it has never applied one, it saw a gap, or an update did
/// not verify. The cloud answers on the board's `access` topic.
public struct AccessRequest: Codable, Sendable, Equatable {
    public enum Reason: String, Codable, Sendable {
        case start
        case gap
        case badSignature = "bad_signature"
    }

    public var have: Int64
    public var reason: Reason

    public init(have: Int64, reason: Reason) {
        self.have = have
        self.reason = reason
    }
}
