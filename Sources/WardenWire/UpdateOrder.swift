/// An update order as wardend hands it to warden-updater: the authority-signed `update` command exactly as it
/// arrived (the updater verifies it again: the file is only a hand-over, never trusted by itself) and when.
public struct UpdateOrder: Codable, Sendable, Equatable {
    public var token: String
    /// Unix seconds when wardend accepted it.
    public var received: Int64

    public init(token: String, received: Int64) {
        self.token = token
        self.received = received
    }
}
