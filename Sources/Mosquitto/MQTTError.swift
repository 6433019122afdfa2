import CMosquitto

#if canImport(Glibc)
import Glibc
#endif

/// A libmosquitto call or a broker answer failed. `message` names the broker or topic and says what to check; the raw
/// libmosquitto return code, MQTT v5 reason code and errno are kept for logs and metrics.
public struct MQTTError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: Sendable, Equatable {
        /// The TCP connection could not be made (refused, unreachable, timed out).
        case connectionFailed
        /// The broker host name did not resolve.
        case hostNotFound
        /// TLS set-up or handshake failed (files, certificate chain, host name).
        case tls
        /// The broker answered CONNACK with a failure reason (bad credentials, not authorised, banned...).
        case brokerRefused
        /// The broker refused a PUBLISH (PUBACK reason code >= 0x80).
        case publishRejected
        /// The broker refused a SUBSCRIBE (SUBACK reason code >= 0x80).
        case subscribeRejected
        /// The operation needs a connected client.
        case notConnected
        /// The connection went away before the operation completed.
        case connectionLost
        /// The client was disconnected (or deallocated) while the operation waited.
        case disconnected
        /// The waiting task was cancelled.
        case cancelled
        /// A topic, payload, option or call order the library refused.
        case invalidArgument
        /// Anything else libmosquitto reports.
        case other
    }

    public var code: Code
    /// libmosquitto return code (`MOSQ_ERR_*`), 0 when the failure came from a broker reason code.
    public var returnCode: Int32
    /// MQTT v5 reason code from CONNACK/PUBACK/SUBACK/DISCONNECT, 0 when not applicable.
    public var reasonCode: Int32
    /// errno when `returnCode` is `MOSQ_ERR_ERRNO`, otherwise 0.
    public var errno: Int32
    public var message: String
    public var description: String { message }

    public init(code: Code, message: String, returnCode: Int32 = 0, reasonCode: Int32 = 0, errno: Int32 = 0) {
        self.code = code
        self.message = message
        self.returnCode = returnCode
        self.reasonCode = reasonCode
        self.errno = errno
    }

    /// The one place a libmosquitto return code becomes a Swift error. `err` must be the errno read on the thread
    /// that made the call (libmosquitto reports system failures as `MOSQ_ERR_ERRNO` plus errno).
    static func fromReturnCode(_ rc: Int32, errno err: Int32 = 0, _ what: String) -> MQTTError {
        let libReason = String(cString: mosquitto_strerror(rc))
        switch rc {
        case Int32(MOSQ_ERR_ERRNO.rawValue):
            let reason = String(cString: strerror(err))
            let hint: String
            switch err {
            case ECONNREFUSED: hint = "is the broker running and listening on that port?"
            case ETIMEDOUT, EHOSTUNREACH, ENETUNREACH:
                hint = "check the network route and any firewall between the board and the broker"
            case EACCES, EPERM: hint = "the system refused the connection; check local firewall rules"
            default: hint = "check the broker address and the network"
            }
            return MQTTError(
                code: .connectionFailed,
                message: "\(what): \(reason); \(hint)",
                returnCode: rc,
                errno: err
            )
        case Int32(MOSQ_ERR_EAI.rawValue), Int32(MOSQ_ERR_LOOKUP.rawValue):
            return MQTTError(
                code: .hostNotFound,
                message: "\(what): the broker host name does not resolve (\(libReason)); check the host in the "
                    + "configuration and DNS on the board",
                returnCode: rc
            )
        case Int32(MOSQ_ERR_TLS.rawValue), Int32(MOSQ_ERR_TLS_HANDSHAKE.rawValue), Int32(MOSQ_ERR_OCSP.rawValue):
            return MQTTError(
                code: .tls,
                message: "\(what): TLS failed (\(libReason)); check that the CA file signs the broker's certificate, "
                    + "that the broker host name matches it, and that the device certificate and key are readable "
                    + "and belong together",
                returnCode: rc
            )
        case Int32(MOSQ_ERR_NO_CONN.rawValue):
            return MQTTError(
                code: .notConnected,
                message: "\(what): not connected to the broker; call connect first",
                returnCode: rc
            )
        case Int32(MOSQ_ERR_CONN_LOST.rawValue):
            return MQTTError(
                code: .connectionLost,
                message: "\(what): the connection to the broker was lost (\(libReason)); it reconnects on its own",
                returnCode: rc
            )
        case Int32(MOSQ_ERR_INVAL.rawValue), Int32(MOSQ_ERR_MALFORMED_UTF8.rawValue),
            Int32(MOSQ_ERR_PAYLOAD_SIZE.rawValue), Int32(MOSQ_ERR_OVERSIZE_PACKET.rawValue),
            Int32(MOSQ_ERR_QOS_NOT_SUPPORTED.rawValue), Int32(MOSQ_ERR_DUPLICATE_PROPERTY.rawValue),
            Int32(MOSQ_ERR_NOT_SUPPORTED.rawValue):
            return MQTTError(
                code: .invalidArgument,
                message: "\(what): invalid request (\(libReason))",
                returnCode: rc
            )
        default:
            return MQTTError(code: .other, message: "\(what): \(libReason)", returnCode: rc)
        }
    }

    /// A failure reason code (>= 0x80) from the broker in CONNACK, PUBACK, SUBACK or DISCONNECT.
    static func fromReasonCode(_ reason: Int32, code: Code, _ what: String) -> MQTTError {
        let text = String(cString: mosquitto_reason_string(reason))
        let hint: String
        switch reason {
        case Int32(MQTT_RC_BAD_USERNAME_OR_PASSWORD.rawValue), Int32(MQTT_RC_NOT_AUTHORIZED.rawValue):
            hint = "check the device certificate, user name and the broker's ACL for this client"
        case Int32(MQTT_RC_CLIENTID_NOT_VALID.rawValue): hint = "the broker rejects this client id"
        case Int32(MQTT_RC_SERVER_UNAVAILABLE.rawValue), Int32(MQTT_RC_SERVER_BUSY.rawValue),
            Int32(MQTT_RC_QUOTA_EXCEEDED.rawValue):
            hint = "the broker is overloaded; the client retries later"
        case Int32(MQTT_RC_TOPIC_NAME_INVALID.rawValue), Int32(MQTT_RC_TOPIC_FILTER_INVALID.rawValue):
            hint = "check the topic against docs/mqtt.md"
        default: hint = "see the broker log for this client"
        }
        return MQTTError(
            code: code,
            message: "\(what): broker answered \"\(text)\" (reason 0x\(String(reason, radix: 16))); \(hint)",
            reasonCode: reason
        )
    }
}
