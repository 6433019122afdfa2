/// An alarm or its clearing, published at once on `alarm` besides its audit record (same `seq`).
public struct AlarmMessage: Codable, Sendable, Equatable {
    public var seq: Int64
    public var atMillis: Int64
    public var kind: String
    public var reason: String?
    public var detail: String?

    enum CodingKeys: String, CodingKey {
        case seq, kind, reason, detail
        case atMillis = "at_ms"
    }

    public init(seq: Int64, atMillis: Int64, kind: String, reason: String?, detail: String?) {
        self.seq = seq
        self.atMillis = atMillis
        self.kind = kind
        self.reason = reason
        self.detail = detail
    }
}
