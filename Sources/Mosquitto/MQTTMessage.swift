/// One PUBLISH received from the broker, copied out of libmosquitto's buffers so it outlives the callback.
public struct MQTTMessage: Sendable, Equatable {
    public var topic: String
    public var payload: [UInt8]
    public var qos: MQTTQoS
    /// True when the broker delivered a retained message (e.g. the last known state at subscribe time).
    public var retain: Bool
    /// The MQTT 5 properties the broker delivered (message expiry left, correlation data, response topic, user
    /// properties).
    public var properties: MQTTProperties

    public init(topic: String, payload: [UInt8], qos: MQTTQoS, retain: Bool, properties: MQTTProperties = .init()) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
        self.properties = properties
    }
}
