/// The retained `online` message and the board's last will: a dashboard knows at once when a board went away.
public struct OnlineStatus: Codable, Sendable, Equatable {
    public var online: Bool
    /// A random id per start of wardend, so a stale will is not mistaken for the current run's.
    public var boot: String
    public var atMillis: Int64?

    enum CodingKeys: String, CodingKey {
        case online, boot
        case atMillis = "at_ms"
    }

    public init(online: Bool, boot: String, atMillis: Int64? = nil) {
        self.online = online
        self.boot = boot
        self.atMillis = atMillis
    }
}
