/// A verified command as wardend hands it to a root helper (warden-updater for `update`, `wardenctl support-bundle`
/// for `support_bundle`): the authority-signed command exactly as it arrived (the helper verifies it again: the
/// file is only a hand-over, never trusted by itself) and when.
public struct HandedCommand: Codable, Sendable, Equatable {
    public var token: String
    /// Unix seconds when wardend accepted it.
    public var received: Int64

    public init(token: String, received: Int64) {
        self.token = token
        self.received = received
    }
}
