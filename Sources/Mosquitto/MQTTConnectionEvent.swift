/// Connection state changes reported by libmosquitto's network thread, so the daemon can log, count and publish
/// online/offline state without polling. The client reconnects by itself after `.disconnected` unless `disconnect()`
/// was called or the failure is fatal (TLS, authentication): then `connect` must be called again.
public enum MQTTConnectionEvent: Sendable, Equatable {
    /// CONNACK accepted. `sessionPresent` says whether the broker resumed the persistent session (subscriptions and
    /// queued QoS 1 messages survive) or started a fresh one (subscribe again).
    case connected(sessionPresent: Bool)
    /// The connection ended. `reasonCode` is libmosquitto's code (0 after our own `disconnect()`); `reason` is text
    /// for the log.
    case disconnected(reasonCode: Int32, reason: String)
}
