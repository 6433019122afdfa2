import CSystemd
import POSIXIO
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Advertising through bluetoothd's D-Bus API (`org.bluez.LEAdvertisingManager1`), for boards where bluetoothd owns
/// the adapter (Raspberry Pi OS): raw HCI commands there fight bluetoothd, which rewrites the controller's advertising
/// set whenever it changes its own state. wardend exports one `org.bluez.LEAdvertisement1` object and registers it;
/// bluetoothd reads its properties and advertises it (the kernel turns it back on after each connection).
///
/// Everything sd-bus does happens on one thread owned by this object (sd-bus is not thread-safe). Registration is
/// asynchronous because bluetoothd calls back into the object before it answers; the outcome arrives on `events`.
/// If bluetoothd restarts, or releases the advertisement (adapter powered off or removed), it is registered again,
/// with back-off from 1 s to 30 s. Closing the bus connection (`stop`) is what removes the advertisement.
public final class BluezAdvertiser: Sendable {
    /// What bluetoothd is asked to advertise: the service UUID (with LE General Discoverable flags) in the advertising
    /// data, and service data for that UUID in the scan response. bluetoothd places scan-response service data only
    /// from BlueZ 5.80 on, with experimental interfaces enabled; older versions ignore the property (docs/hardware.md).
    public struct Content: Sendable, Equatable {
        public var serviceUUID: String
        public var scanResponseServiceData: [UInt8]

        public init(serviceUUID: String, scanResponseServiceData: [UInt8]) {
            self.serviceUUID = serviceUUID
            self.scanResponseServiceData = scanResponseServiceData
        }
    }

    /// What happened to the registration. The owner logs these; registration retries by itself.
    public enum Event: Sendable, Equatable {
        /// bluetoothd accepted the advertisement on the adapter.
        case registered(adapter: String)
        /// bluetoothd refused it, or did not answer; a retry follows after `retryIn` seconds.
        case failed(BluetoothError, retryIn: Int)
        /// bluetoothd released the advertisement (adapter powered off or gone); a retry follows.
        case released
        /// bluetoothd left the bus (stopped or crashed): nothing advertises until it is back.
        case bluetoothdGone
        /// bluetoothd is back on the bus; registration starts again.
        case bluetoothdBack
    }

    /// The D-Bus object path wardend exports for an adapter.
    public static func objectPath(adapter: String) -> String { "/org/warden/advertisement/\(adapter)" }

    public let adapter: String
    /// This connection's unique bus name (`:1.42`): where the advertisement object lives, for `busctl` and logs.
    public let uniqueName: String
    public let events: AsyncStream<Event>
    private let core: Core

    /// Connects to the system bus (or `busAddress`, e.g. `unix:path=/tmp/bus` in tests), exports the advertisement
    /// object and starts registering it with bluetoothd on `adapter` (`hci0`).
    public init(adapter: String, content: Content, busAddress: String? = nil) throws(BluetoothError) {
        let bus = try Self.connect(busAddress)
        let (stream, continuation) = AsyncStream.makeStream(of: Event.self, bufferingPolicy: .bufferingNewest(64))
        let core = Core(bus: bus, adapter: adapter, content: content, continuation: continuation)
        let userdata = Unmanaged.passRetained(core).toOpaque()
        var rc = sd_bus_add_object(bus, nil, Self.objectPath(adapter: adapter), Core.messageHandler, userdata)
        if rc >= 0 {
            rc = sd_bus_add_match(
                bus,
                nil,
                "type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop.DBus',member='NameOwnerChanged',arg0='org.bluez'",
                Core.ownerChangedHandler,
                userdata
            )
        }
        if rc >= 0 {
            // The adapter's properties change when it is powered on: a failed registration is retried at once.
            rc = sd_bus_add_match(
                bus,
                nil,
                "type='signal',sender='org.bluez',interface='org.freedesktop.DBus.Properties',member='PropertiesChanged',path='/org/bluez/\(adapter)'",
                Core.adapterChangedHandler,
                userdata
            )
        }
        if rc < 0 {
            Unmanaged<Core>.fromOpaque(userdata).release()
            sd_bus_flush_close_unref(bus)
            throw BluetoothError(
                code: .dbus,
                errno: -rc,
                message: "exporting the advertisement object on D-Bus: \(String(cString: strerror(-rc)))"
            )
        }
        var unique: UnsafePointer<CChar>?
        _ = sd_bus_get_unique_name(bus, &unique)
        self.uniqueName = unique.map { String(cString: $0) } ?? ""
        self.adapter = adapter
        self.events = stream
        self.core = core
        let thread = Thread(userdata: userdata)
        DetachedThread.start { thread.run() }
    }

    /// Closes the bus connection; bluetoothd then drops the advertisement. Returns at once; the thread ends within
    /// one wait interval (100 ms).
    public func stop() { core.stopping.store(true, ordering: .releasing) }

    deinit { stop() }

    /// Whether bluetoothd (the bus name `org.bluez`) is on the system bus (or `busAddress`). False when there is no
    /// bus at all: minimal images and the test VM run without either, and then raw HCI advertising is the way.
    public static func bluetoothdPresent(busAddress: String? = nil) -> Bool {
        guard let bus = try? connect(busAddress) else { return false }
        defer { sd_bus_flush_close_unref(bus) }
        var m: OpaquePointer?
        guard
            sd_bus_message_new_method_call(
                bus,
                &m,
                "org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus",
                "NameHasOwner"
            ) >= 0,
            let m
        else { return false }
        defer { sd_bus_message_unref(m) }
        guard "org.bluez".withCString({ sd_bus_message_append_basic(m, DBusType.string, $0) }) >= 0 else {
            return false
        }
        var error = sd_bus_error()
        var reply: OpaquePointer?
        defer { sd_bus_error_free(&error) }
        guard sd_bus_call(bus, m, 2_000_000, &error, &reply) >= 0, let reply else { return false }
        defer { sd_bus_message_unref(reply) }
        var owned: Int32 = 0
        guard sd_bus_message_read_basic(reply, DBusType.boolean, &owned) >= 0 else { return false }
        return owned != 0
    }

    static func connect(_ address: String?) throws(BluetoothError) -> OpaquePointer {
        var bus: OpaquePointer?
        var rc: Int32
        if let address {
            rc = sd_bus_new(&bus)
            if rc >= 0 { rc = sd_bus_set_address(bus, address) }
            if rc >= 0 { rc = sd_bus_set_bus_client(bus, 1) }
            if rc >= 0 { rc = sd_bus_start(bus) }
        } else {
            rc = sd_bus_open_system(&bus)
        }
        guard rc >= 0, let bus else {
            if let bus { sd_bus_flush_close_unref(bus) }
            throw BluetoothError(
                code: .dbus,
                errno: -rc,
                message:
                    "cannot reach the D-Bus system bus at \(address ?? "the default address") (\(String(cString: strerror(-rc)))): is dbus running?"
            )
        }
        return bus
    }

    /// The loop thread's entry: owns the retained `Core` until the loop ends.
    private final class Thread: @unchecked Sendable {
        let userdata: UnsafeMutableRawPointer
        init(userdata: UnsafeMutableRawPointer) { self.userdata = userdata }
        func run() {
            let core = Unmanaged<Core>.fromOpaque(userdata)
            core.takeUnretainedValue().loop()
            core.release()
        }
    }
}

extension BluezAdvertiser {
    /// State touched only on the loop thread (inside `sd_bus_process` callbacks or the loop itself), except `stopping`.
    final class Core: @unchecked Sendable {
        let bus: OpaquePointer
        let adapter: String
        let content: Content
        let continuation: AsyncStream<Event>.Continuation
        let stopping = Atomic<Bool>(false)
        private var registered = false
        private var pending = false
        private var retryAt: UInt64? = 0  // register on the first turn of the loop
        private var backoff = 1

        init(bus: OpaquePointer, adapter: String, content: Content, continuation: AsyncStream<Event>.Continuation) {
            self.bus = bus
            self.adapter = adapter
            self.content = content
            self.continuation = continuation
        }

        var adapterPath: String { "/org/bluez/\(adapter)" }
        var objectPath: String { BluezAdvertiser.objectPath(adapter: adapter) }

        func loop() {
            while !stopping.load(ordering: .acquiring) {
                while sd_bus_process(bus, nil) > 0 {}
                let now = Self.monotonicMicros()
                if let at = retryAt, at <= now, !pending {
                    retryAt = nil
                    register()
                    continue
                }
                var wait: UInt64 = 100_000
                if let at = retryAt { wait = min(wait, at > now ? at - now : 0) }
                if sd_bus_wait(bus, wait) < 0 {
                    continuation.yield(
                        .failed(BluetoothError(code: .dbus, message: "the D-Bus connection broke"), retryIn: 0)
                    )
                    break
                }
            }
            sd_bus_flush_close_unref(bus)
            continuation.finish()
        }

        // MARK: registration

        private func register() {
            var m: OpaquePointer?
            var rc = sd_bus_message_new_method_call(
                bus,
                &m,
                "org.bluez",
                adapterPath,
                "org.bluez.LEAdvertisingManager1",
                "RegisterAdvertisement"
            )
            if rc >= 0, let m {
                rc = objectPath.withCString { sd_bus_message_append_basic(m, DBusType.objectPath, $0) }
                if rc >= 0 { rc = sd_bus_message_open_container(m, DBusType.array, "{sv}") }
                if rc >= 0 { rc = sd_bus_message_close_container(m) }
                let userdata = Unmanaged.passUnretained(self).toOpaque()
                if rc >= 0 { rc = sd_bus_call_async(bus, nil, m, Self.registerReplyHandler, userdata, 10_000_000) }
                sd_bus_message_unref(m)
            }
            if rc < 0 {
                scheduleRetry(
                    BluetoothError(
                        code: .dbus,
                        errno: -rc,
                        message: "calling RegisterAdvertisement: \(String(cString: strerror(-rc)))"
                    )
                )
            } else {
                pending = true
            }
        }

        private func scheduleRetry(_ error: BluetoothError?) {
            let delay = backoff
            backoff = min(backoff * 2, 30)
            retryAt = Self.monotonicMicros() + UInt64(delay) * 1_000_000
            if let error { continuation.yield(.failed(error, retryIn: delay)) }
        }

        fileprivate func registerReplied(_ reply: OpaquePointer) {
            pending = false
            guard !stopping.load(ordering: .acquiring) else { return }
            if sd_bus_message_is_method_error(reply, nil) != 0, let e = sd_bus_message_get_error(reply) {
                let name = e.pointee.name.map { String(cString: $0) } ?? "unknown"
                let text = e.pointee.message.map { String(cString: $0) } ?? ""
                scheduleRetry(Self.explain(name: name, message: text, adapter: adapter))
                return
            }
            registered = true
            backoff = 1
            continuation.yield(.registered(adapter: adapter))
        }

        fileprivate func ownerChanged(newOwner: String) {
            if newOwner.isEmpty {
                registered = false
                retryAt = nil
                continuation.yield(.bluetoothdGone)
            } else {
                continuation.yield(.bluetoothdBack)
                registered = false
                backoff = 1
                // bluetoothd takes its name before its adapters are ready: give it a moment.
                retryAt = Self.monotonicMicros() + 500_000
            }
        }

        fileprivate func adapterChanged() {
            guard !registered, !pending, retryAt != nil else { return }
            backoff = 1
            retryAt = Self.monotonicMicros()
        }

        fileprivate func released() {
            registered = false
            continuation.yield(.released)
            scheduleRetry(nil)
        }

        static func explain(name: String, message: String, adapter: String) -> BluetoothError {
            let hint: String
            switch name {
            case "org.freedesktop.DBus.Error.ServiceUnknown", "org.freedesktop.DBus.Error.NameHasNoOwner":
                hint = "bluetoothd is not on the system bus"
            case "org.freedesktop.DBus.Error.UnknownObject", "org.freedesktop.DBus.Error.UnknownMethod",
                "org.freedesktop.DBus.Error.UnknownInterface":
                hint =
                    "bluetoothd has no LE advertising manager on \(adapter) (adapter missing, not LE-capable, or not powered yet)"
            case "org.freedesktop.DBus.Error.AccessDenied":
                hint = "the D-Bus policy does not let wardend call bluetoothd: run it as root or in group 'bluetooth'"
            case "org.bluez.Error.NotPermitted":
                hint = "bluetoothd refused (all advertising instances of the controller are in use?)"
            case "org.bluez.Error.AlreadyExists":
                hint = "this advertisement is already registered"
            case "org.freedesktop.DBus.Error.NoReply", "org.freedesktop.DBus.Error.Timeout":
                hint = "bluetoothd did not answer"
            case "org.bluez.Error.Failed":
                hint = "bluetoothd could not add it to the controller (is the adapter powered? `bluetoothctl power on`)"
            default:
                hint = "bluetoothd refused the advertisement"
            }
            return BluetoothError(
                code: .dbus,
                message: "RegisterAdvertisement on /org/bluez/\(adapter): \(hint) (\(name): \(message))"
            )
        }

        static func monotonicMicros() -> UInt64 {
            var ts = timespec()
            clock_gettime(CLOCK_MONOTONIC, &ts)
            return UInt64(ts.tv_sec) * 1_000_000 + UInt64(ts.tv_nsec) / 1000
        }

        // MARK: the exported org.bluez.LEAdvertisement1 object

        fileprivate func handle(_ m: OpaquePointer) -> Int32 {
            let interface = sd_bus_message_get_interface(m).map { String(cString: $0) } ?? ""
            let member = sd_bus_message_get_member(m).map { String(cString: $0) } ?? ""
            switch (interface, member) {
            case ("org.freedesktop.DBus.Properties", "GetAll"):
                let requested = readString(m)
                return reply(to: m) { r in
                    var rc = sd_bus_message_open_container(r, DBusType.array, "{sv}")
                    if rc >= 0, requested == "org.bluez.LEAdvertisement1" { rc = appendProperties(r) }
                    if rc >= 0 { rc = sd_bus_message_close_container(r) }
                    return rc
                }
            case ("org.freedesktop.DBus.Properties", "Get"):
                let requested = readString(m)
                let name = readString(m)
                guard requested == "org.bluez.LEAdvertisement1", let write = propertyWriter(name) else {
                    return replyError(
                        to: m,
                        "org.freedesktop.DBus.Error.InvalidArgs",
                        "no property \(name ?? "?") on \(requested ?? "?")"
                    )
                }
                return reply(to: m) { r in write(r) }
            case ("org.bluez.LEAdvertisement1", "Release"):
                let rc = reply(to: m) { _ in 0 }
                released()
                return rc
            case ("org.freedesktop.DBus.Introspectable", "Introspect"):
                return reply(to: m) { r in
                    Self.introspection.withCString { sd_bus_message_append_basic(r, DBusType.string, $0) }
                }
            default:
                return 0  // sd-bus answers UnknownMethod
            }
        }

        private func readString(_ m: OpaquePointer) -> String? {
            var p: UnsafePointer<CChar>?
            guard sd_bus_message_read_basic(m, DBusType.string, &p) > 0, let p else { return nil }
            return String(cString: p)
        }

        private func reply(to m: OpaquePointer, _ body: (OpaquePointer) -> Int32) -> Int32 {
            var r: OpaquePointer?
            var rc = sd_bus_message_new_method_return(m, &r)
            guard rc >= 0, let r else { return rc }
            defer { sd_bus_message_unref(r) }
            rc = body(r)
            if rc < 0 { return rc }
            rc = sd_bus_send(nil, r, nil)
            return rc < 0 ? rc : 1
        }

        private func replyError(to m: OpaquePointer, _ name: String, _ message: String) -> Int32 {
            var e = sd_bus_error()
            defer { sd_bus_error_free(&e) }
            _ = sd_bus_error_set(&e, name, message)
            return sd_bus_reply_method_error(m, &e) < 0 ? -1 : 1
        }

        static let propertyNames = ["Type", "ServiceUUIDs", "Discoverable", "ScanResponseServiceData"]

        private func appendProperties(_ r: OpaquePointer) -> Int32 {
            for name in Self.propertyNames {
                guard let write = propertyWriter(name) else { continue }
                var rc = sd_bus_message_open_container(r, DBusType.dictEntry, "sv")
                if rc >= 0 { rc = name.withCString { sd_bus_message_append_basic(r, DBusType.string, $0) } }
                if rc >= 0 { rc = write(r) }
                if rc >= 0 { rc = sd_bus_message_close_container(r) }
                if rc < 0 { return rc }
            }
            return 0
        }

        /// Writes one property's value as a variant.
        private func propertyWriter(_ name: String?) -> ((OpaquePointer) -> Int32)? {
            let content = self.content
            switch name {
            case "Type":
                return { r in
                    Self.variant(r, "s") {
                        "peripheral".withCString { sd_bus_message_append_basic(r, DBusType.string, $0) }
                    }
                }
            case "ServiceUUIDs":
                return { r in
                    Self.variant(r, "as") {
                        var rc = sd_bus_message_open_container(r, DBusType.array, "s")
                        if rc >= 0 {
                            rc = content.serviceUUID.withCString { sd_bus_message_append_basic(r, DBusType.string, $0) }
                        }
                        if rc >= 0 { rc = sd_bus_message_close_container(r) }
                        return rc
                    }
                }
            case "Discoverable":
                return { r in
                    Self.variant(r, "b") {
                        var yes: Int32 = 1
                        return sd_bus_message_append_basic(r, DBusType.boolean, &yes)
                    }
                }
            case "ScanResponseServiceData":
                return { r in
                    Self.variant(r, "a{sv}") {
                        var rc = sd_bus_message_open_container(r, DBusType.array, "{sv}")
                        if rc >= 0 { rc = sd_bus_message_open_container(r, DBusType.dictEntry, "sv") }
                        if rc >= 0 {
                            rc = content.serviceUUID.withCString { sd_bus_message_append_basic(r, DBusType.string, $0) }
                        }
                        if rc >= 0 {
                            rc = Self.variant(r, "ay") {
                                content.scanResponseServiceData.withUnsafeBytes {
                                    sd_bus_message_append_array(r, DBusType.byte, $0.baseAddress, $0.count)
                                }
                            }
                        }
                        if rc >= 0 { rc = sd_bus_message_close_container(r) }
                        if rc >= 0 { rc = sd_bus_message_close_container(r) }
                        return rc
                    }
                }
            default:
                return nil
            }
        }

        private static func variant(_ r: OpaquePointer, _ signature: String, _ body: () -> Int32) -> Int32 {
            var rc = sd_bus_message_open_container(r, DBusType.variant, signature)
            if rc >= 0 { rc = body() }
            if rc >= 0 { rc = sd_bus_message_close_container(r) }
            return rc
        }

        static let introspection = """
            <!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN" \
            "http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">
            <node>
             <interface name="org.bluez.LEAdvertisement1">
              <method name="Release"/>
              <property name="Type" type="s" access="read"/>
              <property name="ServiceUUIDs" type="as" access="read"/>
              <property name="Discoverable" type="b" access="read"/>
              <property name="ScanResponseServiceData" type="a{sv}" access="read"/>
             </interface>
             <interface name="org.freedesktop.DBus.Properties">
              <method name="Get"><arg name="interface" type="s" direction="in"/><arg name="name" type="s" direction="in"/><arg name="value" type="v" direction="out"/></method>
              <method name="GetAll"><arg name="interface" type="s" direction="in"/><arg name="properties" type="a{sv}" direction="out"/></method>
             </interface>
             <interface name="org.freedesktop.DBus.Introspectable">
              <method name="Introspect"><arg name="xml" type="s" direction="out"/></method>
             </interface>
            </node>
            """

        // MARK: C entry points (userdata is the Core, retained by the loop thread)

        static let messageHandler: sd_bus_message_handler_t = { m, userdata, _ in
            guard let m, let userdata else { return 0 }
            return Unmanaged<Core>.fromOpaque(userdata).takeUnretainedValue().handle(m)
        }

        static let registerReplyHandler: sd_bus_message_handler_t = { m, userdata, _ in
            guard let m, let userdata else { return 0 }
            Unmanaged<Core>.fromOpaque(userdata).takeUnretainedValue().registerReplied(m)
            return 1
        }

        static let adapterChangedHandler: sd_bus_message_handler_t = { _, userdata, _ in
            guard let userdata else { return 0 }
            Unmanaged<Core>.fromOpaque(userdata).takeUnretainedValue().adapterChanged()
            return 0
        }

        static let ownerChangedHandler: sd_bus_message_handler_t = { m, userdata, _ in
            guard let m, let userdata else { return 0 }
            let core = Unmanaged<Core>.fromOpaque(userdata).takeUnretainedValue()
            _ = core.readString(m)  // name
            _ = core.readString(m)  // old owner
            core.ownerChanged(newOwner: core.readString(m) ?? "")
            return 0
        }
    }
}
