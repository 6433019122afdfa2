/// What warden-updater last did with an update order (docs/updates.md): written by the updater, read by wardend into
/// its state (the cloud's rollout counts boards by it) and by `wardenctl update status`.
public struct UpdateReport: Codable, Sendable, Equatable {
    public enum Status: String, Codable, Sendable, CaseIterable {
        /// The order is accepted; the package is not installed yet (door busy, outside the window, downloading).
        case waiting
        case installing
        /// `target` runs and passed the health check.
        case installed
        /// `target` failed its health check; `version` (the one before) runs again.
        case rolledBack = "rolled_back"
        /// Nothing was changed, or the rollback itself failed: `detail` says which.
        case failed

        /// Whether the updater is done with the order.
        public var isFinal: Bool { self == .installed || self == .rolledBack || self == .failed }
    }

    /// The version the order asked for.
    public var target: String
    public var status: Status
    /// The version running now, as the package database has it.
    public var version: String?
    /// The version before the update (what a rollback returns to).
    public var previous: String?
    public var detail: String?
    /// The order's nonce, so the cloud matches the report to its command.
    public var jti: String
    /// Unix seconds of this report.
    public var at: Int64

    public init(
        target: String,
        status: Status,
        version: String?,
        previous: String?,
        detail: String?,
        jti: String,
        at: Int64
    ) {
        self.target = target
        self.status = status
        self.version = version
        self.previous = previous
        self.detail = detail
        self.jti = jti
        self.at = at
    }
}
