import CMosquitto
import POSIXIO
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// libmosquitto is initialised once per process (thread-safe lazy global) and never cleaned up: clients may live
/// until exit.
private let libraryInitResult: Int32 = mosquitto_lib_init()

/// An MQTT v5 client over libmosquitto, the board's link to the cloud (and the cloud consumer's link to the broker).
///
/// The network runs on mosquitto's own thread (`mosquitto_loop_start`), which also reconnects after a lost connection
/// (1 s, then backing off to 60 s) and resends unacknowledged QoS 1 messages. Results reach callers by continuations:
/// `connect` returns at CONNACK, `publish` at PUBACK, `subscribe` at SUBACK. Configure TLS, credentials and the will
/// before `connect`.
public final class MQTTClient: Sendable {
    public let clientID: String
    /// Received PUBLISH messages, in arrival order. One consumer; unbounded so nothing the broker already handed us is
    /// dropped (QoS 1 messages are acknowledged by libmosquitto on receipt).
    public let messages: AsyncStream<MQTTMessage>
    /// Connected / disconnected transitions, newest 32 kept if nobody reads them.
    public let connectionEvents: AsyncStream<MQTTConnectionEvent>

    /// The `struct mosquitto *`. Immutable for the object's life. libmosquitto guards the struct with its own mutexes
    /// for the calls made concurrently here (publish, subscribe, socket); the calls that are not safe to overlap
    /// (configuration, connect, loop start/stop, destroy) are serialised by `control`. Hence the unsafe opt-out.
    nonisolated(unsafe) private let handle: OpaquePointer
    private let core: MQTTClientCore
    private let cleanStart: Bool
    private let sessionExpirySeconds: UInt32

    private struct Control {
        var loopRunning = false
        /// Bumped by every connect and stop, so a connect thread that lost a race with `disconnect()` does nothing.
        var generation = 0
    }
    private let control = Mutex(Control())

    /// - Parameters:
    ///   - clientID: the MQTT client id; the board uses its device id so the broker's per-device ACL applies.
    ///   - cleanStart: false to resume the broker session (subscriptions and queued QoS 1 messages) after a reconnect.
    ///   - sessionExpiry: how long the broker keeps the session after a disconnect. MQTT v5 keeps none when this is
    ///     zero, whatever `cleanStart` says, so a persistent session needs both `cleanStart: false` and a non-zero value.
    /// `firstReconnectDelay` narrows the range the first reconnect delay is drawn from (whole seconds, libmosquitto's
    /// unit): the fleet simulator's failure tests use 1...1 to run a hundred broker restarts in minutes.
    public init(
        clientID: String,
        cleanStart: Bool = true,
        sessionExpiry: Duration = .zero,
        firstReconnectDelay: ClosedRange<UInt32> = MQTTClient.reconnectBase
    ) throws(MQTTError) {
        guard libraryInitResult == Int32(MOSQ_ERR_SUCCESS.rawValue) else {
            throw MQTTError.fromReturnCode(libraryInitResult, "initialising libmosquitto")
        }
        self.clientID = clientID
        self.cleanStart = cleanStart
        let seconds = max(0, sessionExpiry.components.seconds)
        self.sessionExpirySeconds = UInt32(clamping: seconds)

        let (messages, messageSink) = AsyncStream<MQTTMessage>.makeStream(bufferingPolicy: .unbounded)
        let (events, eventSink) = AsyncStream<MQTTConnectionEvent>.makeStream(bufferingPolicy: .bufferingNewest(32))
        self.messages = messages
        self.connectionEvents = events
        let core = MQTTClientCore(messageSink: messageSink, eventSink: eventSink)
        self.core = core

        let userdata = Unmanaged.passRetained(core)
        guard let handle = mosquitto_new(clientID, cleanStart, userdata.toOpaque()) else {
            let err = errno
            userdata.release()
            messageSink.finish()
            eventSink.finish()
            throw MQTTError(
                code: err == ENOMEM ? .other : .invalidArgument,
                message: err == ENOMEM
                    ? "creating MQTT client '\(clientID)': out of memory"
                    : "creating MQTT client '\(clientID)': invalid client id (a persistent session needs a non-empty id)",
                errno: err
            )
        }
        self.handle = handle
        // From here on `deinit` owns `handle` and the retained `userdata` (recovered through `mosquitto_userdata`).
        _ = mosquitto_int_option(handle, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5)
        // Bounded exponential back-off, jittered per client: libmosquitto has no per-attempt jitter, so each client
        // draws its own first delay (1-3 s) and ceiling (45-75 s). After a broker restart a fleet's reconnects then
        // spread out instead of arriving in lockstep, and no client ever waits more than 75 s.
        _ = mosquitto_reconnect_delay_set(
            handle,
            max(1, firstReconnectDelay.randomElement()!),
            Self.reconnectCeiling.randomElement()!,
            true
        )
        MQTTClientCore.installCallbacks(on: handle)
    }

    /// The range each client draws its first reconnect delay from, in seconds.
    public static let reconnectBase: ClosedRange<UInt32> = 1...3
    /// The range each client draws its longest reconnect delay from, in seconds (the bound docs/mqtt.md promises).
    public static let reconnectCeiling: ClosedRange<UInt32> = 45...75

    deinit {
        stopNetwork()
        core.failAll(MQTTError(code: .disconnected, message: "the MQTT client '\(clientID)' was closed"))
        let userdata = mosquitto_userdata(handle)
        mosquitto_destroy(handle)
        if let userdata { Unmanaged<MQTTClientCore>.fromOpaque(userdata).release() }
        core.messageSink.finish()
        core.eventSink.finish()
    }

    // MARK: Configuration (before connect)

    /// Mutual TLS: `caFile` verifies the broker, `certFile` + `keyFile` (PEM) are this device's identity.
    public func configureTLS(caFile: String, certFile: String? = nil, keyFile: String? = nil) throws(MQTTError) {
        let rc = control.withLock { _ in mosquitto_tls_set(handle, caFile, nil, certFile, keyFile, nil) }
        try check(
            rc,
            "TLS set-up with CA file '\(caFile)', certificate '\(certFile ?? "none")', key '\(keyFile ?? "none")'",
            hint: "check that the files exist and are readable, and that certificate and key are given together"
        )
    }

    public func setCredentials(username: String, password: String?) throws(MQTTError) {
        let rc = control.withLock { _ in mosquitto_username_pw_set(handle, username, password) }
        try check(rc, "setting MQTT credentials for '\(username)'")
    }

    /// The message the broker publishes for us if the connection ends without a DISCONNECT (power cut, crash,
    /// network loss): the board's "offline" state.
    public func setWill(
        topic: String,
        payload: [UInt8],
        qos: MQTTQoS = .atLeastOnce,
        retain: Bool = true
    ) throws(MQTTError) {
        let rc = control.withLock { _ in
            payload.withUnsafeBytes { bytes in
                mosquitto_will_set_v5(handle, topic, Int32(bytes.count), bytes.baseAddress, qos.rawValue, retain, nil)
            }
        }
        try check(rc, "setting the will on '\(topic)'")
    }

    // MARK: Connection

    /// FD_SETSIZE on Linux: the descriptors select() can watch.
    static let selectLimit: Int32 = 1024

    /// Connects and returns when the broker's CONNACK accepts us. Returns whether the broker resumed a session.
    /// Cancelling the task abandons the attempt and stops the network thread. With no CONNACK within `timeout` the
    /// attempt fails: libmosquitto finishes a TLS handshake on its network thread and does not always report a
    /// refused one (a broker certificate the pinned CA did not sign), which would otherwise leave the caller waiting
    /// in silence.
    @discardableResult
    public func connect(
        host: String,
        port: Int = 1883,
        keepalive: Duration = .seconds(60),
        timeout: Duration = .seconds(10)
    ) async throws(MQTTError) -> Bool {
        let target = "\(host):\(port)"
        let what = "connecting to \(target)"
        let alreadyConnected = core.state.withLock { s in
            if s.connected || s.connectInProgress { return true }
            s.connectInProgress = true
            s.target = target
            return false
        }
        if alreadyConnected {
            throw MQTTError(code: .invalidArgument, message: "\(what): this client is already connected or connecting")
        }
        defer { core.state.withLock { $0.connectInProgress = false } }
        let generation = control.withLock { c in
            c.generation += 1
            return c.generation
        }
        let keepaliveSeconds = Int32(clamping: max(5, keepalive.components.seconds))

        let core = self.core
        let watchdog = Task {
            try await Task.sleep(for: timeout)
            let stillWaiting = core.state.withLock { $0.pendingConnect != nil }
            guard stillWaiting else { return }
            core.resolveConnect(
                .failure(
                    MQTTError(
                        code: .connectionFailed,
                        message: "\(what): no answer from the broker within \(timeout); if it uses TLS, check that "
                            + "its certificate is signed by the CA this client trusts and names this host"
                    )
                )
            )
        }
        defer { watchdog.cancel() }
        let result: Result<Bool, MQTTError> = await withTaskCancellationHandler {
            await withCheckedContinuation { (waiter: MQTTClientCore.ConnectWaiter) in
                let cancelled = core.state.withLock { s in
                    if Task.isCancelled { return true }
                    s.pendingConnect = waiter
                    return false
                }
                if cancelled { return waiter.resume(returning: .failure(MQTTClientCore.cancelled)) }
                DetachedThread.start {
                    if let failure = self.startNetwork(host, Int32(port), keepaliveSeconds, generation, what) {
                        self.core.resolveConnect(.failure(failure))
                    }
                }
            }
        } onCancel: {
            core.resolveConnect(.failure(MQTTClientCore.cancelled))
        }

        switch result {
        case .success(let sessionPresent):
            return sessionPresent
        case .failure(let error):
            stopNetwork()
            throw error
        }
    }

    /// Sends DISCONNECT (so the broker does not publish the will), stops the network thread and fails any waiting
    /// publish or subscribe. Blocks briefly while mosquitto's thread finishes.
    public func disconnect() {
        stopNetwork()
        core.failAll(MQTTError(code: .disconnected, message: "the MQTT client '\(clientID)' disconnected"))
    }

    /// Closes the TCP connection without DISCONNECT, as a power cut or network loss would: the broker publishes the
    /// will, and the client reconnects on its own. For the fleet simulator and tests.
    public func simulateConnectionLoss() {
        let fd = mosquitto_socket(handle)
        if fd >= 0 { _ = shutdown(fd, Int32(SHUT_RDWR)) }
    }

    // MARK: Messages

    /// Publishes and, for QoS 1/2, returns when the broker acknowledges (PUBACK/PUBCOMP); QoS 0 returns once queued.
    /// While the connection is down and being re-established, a QoS 1 message waits in libmosquitto, goes out on
    /// reconnect and this call returns at its PUBACK (cancel the task to stop waiting; the message may still be sent).
    /// Before `connect` or after `disconnect()` it throws `.notConnected`. Returns the message id.
    @discardableResult
    public func publish(
        topic: String,
        payload: [UInt8],
        qos: MQTTQoS = .atLeastOnce,
        retain: Bool = false,
        properties: MQTTProperties = .init()
    ) async throws(MQTTError) -> Int32 {
        let mid = try enqueue(topic: topic, payload: payload, qos: qos, retain: retain, properties: properties)
        if qos == .atMostOnce {
            core.ignoreAck(mid)
            return mid
        }
        let reason = try await core.awaitAck(mid).get()
        if reason >= 0x80 {
            throw MQTTError.fromReasonCode(reason, code: .publishRejected, "publishing to '\(topic)'")
        }
        return mid
    }

    /// Queues a message and returns its id at once, without waiting for the PUBACK: for messages the application
    /// confirms end to end itself (audit batches acknowledged after the cloud's commit, answers the other side
    /// retries), where waiting would only hold the caller. Messages are queued in call order. Throws only when the
    /// message could not be queued (not connected and not reconnecting, too large, bad topic).
    @discardableResult
    public func send(
        topic: String,
        payload: [UInt8],
        qos: MQTTQoS = .atLeastOnce,
        retain: Bool = false,
        properties: MQTTProperties = .init()
    ) throws(MQTTError) -> Int32 {
        let mid = try enqueue(topic: topic, payload: payload, qos: qos, retain: retain, properties: properties)
        core.ignoreAck(mid)
        return mid
    }

    /// Hands a message to libmosquitto. Offline, libmosquitto still queues a QoS 1/2 message and answers NO_CONN:
    /// the network thread sends it when it has reconnected, so that is not a failure (a retry would only duplicate it).
    private func enqueue(
        topic: String,
        payload: [UInt8],
        qos: MQTTQoS,
        retain: Bool,
        properties: MQTTProperties
    ) throws(MQTTError) -> Int32 {
        var mid: Int32 = 0
        var err: Int32 = 0
        var list: OpaquePointer? = nil
        defer { mosquitto_property_free_all(&list) }
        let built = properties.makeList(&list)
        if built != Int32(MOSQ_ERR_SUCCESS.rawValue) {
            throw MQTTError.fromReturnCode(built, "publishing to '\(topic)': building its MQTT 5 properties")
        }
        let rc = payload.withUnsafeBytes { bytes in
            let rc = mosquitto_publish_v5(
                handle,
                &mid,
                topic,
                Int32(bytes.count),
                bytes.baseAddress,
                qos.rawValue,
                retain,
                list
            )
            err = errno
            return rc
        }
        let queuedWhileOffline =
            rc == Int32(MOSQ_ERR_NO_CONN.rawValue) && qos != .atMostOnce && core.state.withLock { $0.networkRunning }
        if !queuedWhileOffline { try check(rc, errno: err, "publishing to '\(topic)'") }
        return mid
    }

    /// Subscribes to one topic filter and returns the QoS the broker granted (at SUBACK).
    @discardableResult
    public func subscribe(topic: String, qos: MQTTQoS = .atLeastOnce) async throws(MQTTError) -> MQTTQoS {
        var mid: Int32 = 0
        let rc = mosquitto_subscribe_v5(handle, &mid, topic, qos.rawValue, 0, nil)
        try check(rc, errno: errno, "subscribing to '\(topic)'")
        core.noteSubscribe(mid)
        let granted = try await core.awaitAck(mid).get()
        if granted >= 0x80 {
            throw MQTTError.fromReasonCode(granted, code: .subscribeRejected, "subscribing to '\(topic)'")
        }
        return MQTTQoS(rawValue: granted) ?? qos
    }

    // MARK: Network thread

    /// Runs on a detached thread: the TCP connect blocks. Returns the failure to report, nil once CONNECT is sent.
    private func startNetwork(
        _ host: String,
        _ port: Int32,
        _ keepalive: Int32,
        _ generation: Int,
        _ what: String
    ) -> MQTTError? {
        control.withLock { c -> MQTTError? in
            guard c.generation == generation else { return MQTTClientCore.cancelled }
            if c.loopRunning {
                // A loop left from an earlier connection (reconnecting, or ended on a fatal error): replace it.
                _ = mosquitto_disconnect_v5(handle, 0, nil)
                _ = mosquitto_loop_stop(handle, false)
                c.loopRunning = false
                core.state.withLock { $0.networkRunning = false }
            }
            var properties: OpaquePointer? = nil
            defer { mosquitto_property_free_all(&properties) }
            if sessionExpirySeconds > 0 {
                let rc = mosquitto_property_add_int32(
                    &properties,
                    Int32(MQTT_PROP_SESSION_EXPIRY_INTERVAL.rawValue),
                    sessionExpirySeconds
                )
                if rc != Int32(MOSQ_ERR_SUCCESS.rawValue) { return MQTTError.fromReturnCode(rc, what) }
            }
            let rc = mosquitto_connect_bind_v5(handle, host, port, keepalive, nil, properties)
            if rc != Int32(MOSQ_ERR_SUCCESS.rawValue) { return MQTTError.fromReturnCode(rc, errno: errno, what) }
            // libmosquitto's loop watches its socket with select(), which cannot take a descriptor past 1023: its
            // thread would spin on MOSQ_ERR_INVAL and the CONNACK would never be read.
            let fd = mosquitto_socket(handle)
            if fd >= Self.selectLimit {
                _ = mosquitto_disconnect_v5(handle, 0, nil)
                return MQTTError(
                    code: .connectionFailed,
                    message: "\(what): the socket is descriptor \(fd), past the \(Self.selectLimit - 1) libmosquitto's "
                        + "select() loop can watch; this process holds too many open files"
                )
            }
            core.state.withLock { $0.awaitingConnack = true }
            let loop = mosquitto_loop_start(handle)
            if loop != Int32(MOSQ_ERR_SUCCESS.rawValue) {
                _ = mosquitto_disconnect_v5(handle, 0, nil)
                return MQTTError.fromReturnCode(loop, errno: errno, "\(what): starting the network thread")
            }
            c.loopRunning = true
            core.state.withLock { $0.networkRunning = true }
            return nil
        }
    }

    /// Sends DISCONNECT and joins mosquitto's thread. Never called with `core.state` held: the thread may be waiting
    /// for that lock inside a callback.
    private func stopNetwork() {
        control.withLock { c in
            c.generation += 1
            guard c.loopRunning else { return }
            _ = mosquitto_disconnect_v5(handle, 0, nil)
            _ = mosquitto_loop_stop(handle, false)
            c.loopRunning = false
        }
        core.state.withLock { s in
            s.connected = false
            s.networkRunning = false
        }
    }

    private func check(_ rc: Int32, errno err: Int32 = 0, _ what: String, hint: String? = nil) throws(MQTTError) {
        guard rc != Int32(MOSQ_ERR_SUCCESS.rawValue) else { return }
        var error = MQTTError.fromReturnCode(rc, errno: err, what)
        if let hint { error.message += "; \(hint)" }
        throw error
    }
}
