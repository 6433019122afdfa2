import CMosquitto
import Synchronization

/// What libmosquitto's network thread shares with the tasks awaiting results: pending CONNACK/PUBACK/SUBACK waiters
/// and the two output streams. The C callbacks reach it through `userdata` (one retained reference owned by
/// `MQTTClient`) and, since they run on mosquitto's thread where the compiler cannot see the race, every field is
/// behind one `Mutex`. No continuation is ever resumed while that lock is held.
final class MQTTClientCore: Sendable {
    typealias AckWaiter = CheckedContinuation<Result<Int32, MQTTError>, Never>
    typealias ConnectWaiter = CheckedContinuation<Result<Bool, MQTTError>, Never>

    struct State {
        var connected = false
        /// A `connect` call is under way (from its first line to its return), so a second one is refused.
        var connectInProgress = false
        /// mosquitto's network thread is running, so it will (re)connect and flush queued QoS 1 messages.
        var networkRunning = false
        /// "host:port" of the current connect, for messages.
        var target = ""
        var pendingConnect: ConnectWaiter?
        /// Set once the TCP connection is up and CONNECT sent: only then may a callback answer `pendingConnect`.
        var awaitingConnack = false
        /// mid -> waiter for a PUBACK (QoS 1/2) or SUBACK. Success carries the raw reason code / granted QoS.
        var ackWaiters: [Int32: AckWaiter] = [:]
        /// Acks that arrived before their publisher registered (the network thread can beat the caller).
        var earlyAcks: [Int32: Int32] = [:]
        /// mids nobody will wait for (QoS 0 sends, cancelled waits): their acks are dropped.
        var unawaited: Set<Int32> = []
        /// SUBSCRIBEs not yet answered: libmosquitto does not send them again after a reconnect, so a lost
        /// connection fails them (the caller subscribes again on the next connection).
        var subscribes: Set<Int32> = []
        /// Subscribes failed by a lost connection before their caller started waiting.
        var earlyFailures: [Int32: MQTTError] = [:]
    }

    /// `mid` is a SUBSCRIBE: fail it if the connection drops before its SUBACK.
    func noteSubscribe(_ mid: Int32) {
        state.withLock { s in
            if s.earlyAcks[mid] == nil { s.subscribes.insert(mid) }
        }
    }

    let state = Mutex(State())
    let messageSink: AsyncStream<MQTTMessage>.Continuation
    let eventSink: AsyncStream<MQTTConnectionEvent>.Continuation

    init(messageSink: AsyncStream<MQTTMessage>.Continuation, eventSink: AsyncStream<MQTTConnectionEvent>.Continuation) {
        self.messageSink = messageSink
        self.eventSink = eventSink
    }

    // MARK: Connect

    func resolveConnect(_ result: Result<Bool, MQTTError>) {
        let waiter = state.withLock { s in
            s.awaitingConnack = false
            let w = s.pendingConnect
            s.pendingConnect = nil
            return w
        }
        waiter?.resume(returning: result)
    }

    // MARK: Acks by message id

    /// Waits for the PUBACK/SUBACK of `mid`; the result is the broker's reason code (or granted QoS).
    func awaitAck(_ mid: Int32) async -> Result<Int32, MQTTError> {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (waiter: AckWaiter) in
                let ready: Result<Int32, MQTTError>? = state.withLock { s in
                    if let reason = s.earlyAcks.removeValue(forKey: mid) { return .success(reason) }
                    if let failure = s.earlyFailures.removeValue(forKey: mid) { return .failure(failure) }
                    if Task.isCancelled {
                        s.unawaited.insert(mid)
                        return .failure(Self.cancelled)
                    }
                    s.ackWaiters[mid] = waiter
                    return nil
                }
                if let ready { waiter.resume(returning: ready) }
            }
        } onCancel: {
            let waiter = state.withLock { s in
                let w = s.ackWaiters.removeValue(forKey: mid)
                if w != nil { s.unawaited.insert(mid) }
                return w
            }
            waiter?.resume(returning: .failure(Self.cancelled))
        }
    }

    /// A QoS 0 publish: its "sent" callback is not waited for.
    func ignoreAck(_ mid: Int32) {
        state.withLock { s in
            if s.earlyAcks.removeValue(forKey: mid) == nil { s.unawaited.insert(mid) }
        }
    }

    func deliverAck(_ mid: Int32, reason: Int32) {
        let waiter: AckWaiter? = state.withLock { s in
            s.subscribes.remove(mid)
            if s.unawaited.remove(mid) != nil { return nil }
            if let w = s.ackWaiters.removeValue(forKey: mid) { return w }
            s.earlyAcks[mid] = reason
            return nil
        }
        waiter?.resume(returning: .success(reason))
    }

    /// Fails every waiter: the client is disconnecting or going away.
    func failAll(_ error: MQTTError) {
        let (connect, acks) = state.withLock { s in
            let c = s.pendingConnect
            let a = Array(s.ackWaiters.values)
            s.pendingConnect = nil
            s.awaitingConnack = false
            s.ackWaiters.removeAll()
            s.earlyAcks.removeAll()
            s.unawaited.removeAll()
            s.subscribes.removeAll()
            s.earlyFailures.removeAll()
            return (c, a)
        }
        connect?.resume(returning: .failure(error))
        for waiter in acks { waiter.resume(returning: .failure(error)) }
    }

    static let cancelled = MQTTError(code: .cancelled, message: "the waiting task was cancelled")

    // MARK: C callbacks (mosquitto's network thread)

    private static func core(_ userdata: UnsafeMutableRawPointer?) -> MQTTClientCore? {
        guard let userdata else { return nil }
        return Unmanaged<MQTTClientCore>.fromOpaque(userdata).takeUnretainedValue()
    }

    /// Registers the v5 callbacks. They are non-capturing C functions; all state goes through `userdata`.
    static func installCallbacks(on handle: OpaquePointer) {
        mosquitto_connect_v5_callback_set(handle) { _, userdata, reason, flags, _ in
            guard let core = MQTTClientCore.core(userdata) else { return }
            core.onConnect(reason: reason, flags: flags)
        }
        mosquitto_disconnect_v5_callback_set(handle) { _, userdata, rc, _ in
            guard let core = MQTTClientCore.core(userdata) else { return }
            core.onDisconnect(rc: rc)
        }
        mosquitto_publish_v5_callback_set(handle) { _, userdata, mid, reason, _ in
            MQTTClientCore.core(userdata)?.deliverAck(mid, reason: reason)
        }
        mosquitto_subscribe_v5_callback_set(handle) { _, userdata, mid, count, granted, _ in
            // One filter per SUBSCRIBE, so the first granted QoS is the answer.
            let first = (count > 0 ? granted?.pointee : nil) ?? Int32(MQTT_RC_UNSPECIFIED.rawValue)
            MQTTClientCore.core(userdata)?.deliverAck(mid, reason: first)
        }
        mosquitto_message_v5_callback_set(handle) { _, userdata, message, properties in
            guard let core = MQTTClientCore.core(userdata), let m = message?.pointee else { return }
            let topic = m.topic.map { String(cString: $0) } ?? ""
            var payload: [UInt8] = []
            if let bytes = m.payload, m.payloadlen > 0 {
                payload = Array(UnsafeRawBufferPointer(start: bytes, count: Int(m.payloadlen)))
            }
            core.messageSink.yield(
                MQTTMessage(
                    topic: topic,
                    payload: payload,
                    qos: MQTTQoS(rawValue: m.qos) ?? .atMostOnce,
                    retain: m.retain,
                    properties: MQTTProperties(reading: properties)
                )
            )
        }
    }

    private func onConnect(reason: Int32, flags: Int32) {
        let (waiter, target) = state.withLock { s in
            let w = s.awaitingConnack ? s.pendingConnect : nil
            if s.awaitingConnack {
                s.pendingConnect = nil
                s.awaitingConnack = false
            }
            s.connected = reason == 0
            return (w, s.target)
        }
        if reason == 0 {
            let sessionPresent = flags & 1 != 0
            waiter?.resume(returning: .success(sessionPresent))
            eventSink.yield(.connected(sessionPresent: sessionPresent))
        } else {
            let error = MQTTError.fromReasonCode(reason, code: .brokerRefused, "connecting to \(target)")
            waiter?.resume(returning: .failure(error))
            eventSink.yield(.disconnected(reasonCode: reason, reason: error.message))
        }
    }

    private func onDisconnect(rc: Int32) {
        let lost = MQTTError(code: .connectionLost, message: "the connection was lost before the broker's SUBACK")
        let (waiter, target, subscribers) = state.withLock { s in
            let w = s.awaitingConnack ? s.pendingConnect : nil
            if s.awaitingConnack {
                s.pendingConnect = nil
                s.awaitingConnack = false
            }
            s.connected = false
            var subscribers: [AckWaiter] = []
            for mid in s.subscribes {
                if let sw = s.ackWaiters.removeValue(forKey: mid) {
                    subscribers.append(sw)
                } else {
                    s.earlyFailures[mid] = lost
                }
            }
            s.subscribes.removeAll()
            return (w, s.target, subscribers)
        }
        for sw in subscribers { sw.resume(returning: .failure(lost)) }
        // A v5 broker DISCONNECT carries an MQTT reason code (>= 0x80); anything else is a libmosquitto code.
        let error =
            rc >= 0x80
            ? MQTTError.fromReasonCode(rc, code: .connectionLost, "connection to \(target)")
            : MQTTError.fromReturnCode(rc, "connection to \(target)")
        waiter?.resume(returning: .failure(error))
        eventSink.yield(.disconnected(reasonCode: rc, reason: rc == 0 ? "disconnected by the client" : error.message))
    }
}
