/// The cloud's acknowledgement, sent only after its database commit: every record up to `upToSeq` is stored, and
/// record `upToSeq` has `hash` there, so the board frees records only when both sides hold the same chain.
public struct AuditAck: Codable, Sendable, Equatable {
    public var upToSeq: Int64
    public var hash: String

    enum CodingKeys: String, CodingKey {
        case upToSeq = "up_to_seq"
        case hash
    }

    public init(upToSeq: Int64, hash: String) {
        self.upToSeq = upToSeq
        self.hash = hash
    }
}
