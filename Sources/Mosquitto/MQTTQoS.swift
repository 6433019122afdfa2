/// MQTT delivery guarantee. Warden uses `.atLeastOnce` for everything that matters (audit, acks, commands) and makes
/// the receiver idempotent, so `.exactlyOnce` is offered only for completeness.
public enum MQTTQoS: Int32, Sendable, Equatable, CaseIterable {
    case atMostOnce = 0
    case atLeastOnce = 1
    case exactlyOnce = 2
}
