import CBluetooth

#if canImport(Glibc)
import Glibc
#endif

/// An HCI controller (`hci0`, ...) opened through libbluetooth: which adapter the door uses, its address (the one
/// phones see when it advertises a public address) and whether it is powered, for `wardenctl doctor` and start-up.
public final class BluetoothAdapter: Sendable {
    public let deviceID: Int32
    /// Kernel name, e.g. `hci0`.
    public let name: String
    public let address: BluetoothAddress
    /// HCI_UP when the adapter was opened; a powered-off adapter accepts no connections.
    public let isPowered: Bool
    /// The controller's LMP features say Low Energy (byte 4, bit 6): phones present over LE only.
    public let supportsLE: Bool
    /// The raw HCI socket from `hci_open_dev`, kept for HCI requests; closed in `deinit`.
    private let descriptor: Int32

    /// Whether the kernel offers AF_BLUETOOTH sockets at all (false in containers and CI), without needing a
    /// controller.
    public static var isSupportedByKernel: Bool {
        let fd = socket(
            warden_bt_af_bluetooth(),
            Int32(SOCK_SEQPACKET.rawValue | SOCK_CLOEXEC.rawValue),
            warden_bt_proto_l2cap()
        )
        guard fd >= 0 else { return errno != EAFNOSUPPORT && errno != EPROTONOSUPPORT }
        _ = close(fd)
        return true
    }

    /// Opens the named adapter (`"hci1"` or its address), or when nil the lowest-numbered powered one (else the
    /// lowest-numbered one). Not `hci_get_route`: it walks the kernel's list newest first, so with a USB dongle
    /// plugged in next to the built-in controller it would pick whichever came up last.
    public init(named name: String? = nil) throws(BluetoothError) {
        let id: Int32
        if let name {
            id = hci_devid(name)
            if id < 0 { throw BluetoothError.fromErrno(errno == 0 ? ENODEV : errno, "hci_devid '\(name)'") }
        } else {
            guard let first = Self.defaultDeviceID() else {
                throw BluetoothError.fromErrno(Self.isSupportedByKernel ? ENODEV : EAFNOSUPPORT, "listing hci0...hci15")
            }
            id = first
        }
        var info = hci_dev_info()
        if hci_devinfo(id, &info) < 0 { throw BluetoothError.fromErrno(errno, "reading hci\(id) information") }
        let dd = hci_open_dev(id)
        if dd < 0 { throw BluetoothError.fromErrno(errno, "opening hci\(id)") }

        self.deviceID = id
        self.name = withUnsafeBytes(of: info.name) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        self.address = BluetoothAddress(info.bdaddr)
        self.isPowered = warden_bt_dev_is_up(&info) != 0
        self.supportsLE = info.features.4 & 0x40 != 0
        self.descriptor = dd
    }

    deinit {
        _ = hci_close_dev(descriptor)
    }

    /// Powers the controller on, as `hciconfig hciN up` does. A lock that advertises without bluetoothd must do this
    /// itself: nobody else will (and bluetoothd powers its adapters off when it exits). Already up is success.
    public static func powerOn(deviceID: Int32) throws(BluetoothError) {
        if warden_bt_dev_up(deviceID) < 0, errno != EALREADY {
            throw BluetoothError.fromErrno(errno, "powering on hci\(deviceID)")
        }
    }

    /// The lowest-numbered powered adapter, else the lowest-numbered present one, else nil.
    public static func defaultDeviceID() -> Int32? {
        var present: Int32?
        for id in Int32(0)..<16 {
            var info = hci_dev_info()
            guard hci_devinfo(id, &info) == 0 else { continue }
            if warden_bt_dev_is_up(&info) != 0 { return id }
            if present == nil { present = id }
        }
        return present
    }
}
