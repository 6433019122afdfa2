import CMosquitto

#if canImport(Glibc)
import Glibc
#endif

/// The MQTT 5 PUBLISH properties the Warden contract uses (docs/mqtt.md): message expiry, correlation data, response
/// topic and user properties. Empty by default; what the broker delivers comes back in `MQTTMessage.properties`.
public struct MQTTProperties: Sendable, Equatable {
    /// Seconds the broker keeps the message for a subscriber that is offline; nil = no expiry. On delivery the
    /// broker sends what is left of it.
    public var messageExpiry: UInt32?
    public var correlationData: [UInt8]?
    public var responseTopic: String?
    /// Name/value pairs, in order (MQTT allows repeats).
    public var userProperties: [UserProperty]

    public struct UserProperty: Sendable, Equatable {
        public var name: String
        public var value: String
        public init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }
    }

    public init(
        messageExpiry: UInt32? = nil,
        correlationData: [UInt8]? = nil,
        responseTopic: String? = nil,
        userProperties: [UserProperty] = []
    ) {
        self.messageExpiry = messageExpiry
        self.correlationData = correlationData
        self.responseTopic = responseTopic
        self.userProperties = userProperties
    }

    /// A libmosquitto property list for these (nil when empty); the caller frees it with
    /// `mosquitto_property_free_all`. Returns libmosquitto's error code when one cannot be added.
    func makeList(_ list: inout OpaquePointer?) -> Int32 {
        let ok = Int32(MOSQ_ERR_SUCCESS.rawValue)
        if let messageExpiry {
            let rc = mosquitto_property_add_int32(
                &list,
                Int32(MQTT_PROP_MESSAGE_EXPIRY_INTERVAL.rawValue),
                messageExpiry
            )
            if rc != ok { return rc }
        }
        if let correlationData {
            let rc = correlationData.withUnsafeBytes { bytes in
                mosquitto_property_add_binary(
                    &list,
                    Int32(MQTT_PROP_CORRELATION_DATA.rawValue),
                    bytes.baseAddress,
                    UInt16(bytes.count)
                )
            }
            if rc != ok { return rc }
        }
        if let responseTopic {
            let rc = mosquitto_property_add_string(&list, Int32(MQTT_PROP_RESPONSE_TOPIC.rawValue), responseTopic)
            if rc != ok { return rc }
        }
        for p in userProperties {
            let rc = mosquitto_property_add_string_pair(&list, Int32(MQTT_PROP_USER_PROPERTY.rawValue), p.name, p.value)
            if rc != ok { return rc }
        }
        return ok
    }

    /// Reads a received message's properties (copies: libmosquitto frees its list after the callback).
    init(reading list: OpaquePointer?) {
        self.init()
        guard let list else { return }
        var expiry: UInt32 = 0
        if mosquitto_property_read_int32(list, Int32(MQTT_PROP_MESSAGE_EXPIRY_INTERVAL.rawValue), &expiry, false) != nil
        {
            messageExpiry = expiry
        }
        var data: UnsafeMutableRawPointer?
        var length: UInt16 = 0
        if mosquitto_property_read_binary(list, Int32(MQTT_PROP_CORRELATION_DATA.rawValue), &data, &length, false)
            != nil
        {
            correlationData = data.map { Array(UnsafeRawBufferPointer(start: $0, count: Int(length))) } ?? []
            free(data)
        }
        var topic: UnsafeMutablePointer<CChar>?
        if mosquitto_property_read_string(list, Int32(MQTT_PROP_RESPONSE_TOPIC.rawValue), &topic, false) != nil,
            let topic
        {
            responseTopic = String(cString: topic)
            free(topic)
        }
        var cursor: OpaquePointer? = list
        var skipFirst = false
        while true {
            var name: UnsafeMutablePointer<CChar>?
            var value: UnsafeMutablePointer<CChar>?
            guard
                let found = mosquitto_property_read_string_pair(
                    cursor,
                    Int32(MQTT_PROP_USER_PROPERTY.rawValue),
                    &name,
                    &value,
                    skipFirst
                )
            else { break }
            if let name, let value {
                userProperties.append(UserProperty(String(cString: name), String(cString: value)))
            }
            free(name)
            free(value)
            cursor = found
            skipFirst = true
        }
    }
}
