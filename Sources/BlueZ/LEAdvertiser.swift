import CBluetooth
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Legacy LE advertising through raw HCI commands (parameters, advertising data, scan response, enable), for boards
/// where bluetoothd does not own the adapter. Where bluetoothd runs it may overwrite these settings: there the
/// advertisement belongs to its D-Bus LEAdvertisingManager1 (docs/hardware.md, "BLE").
public final class LEAdvertiser: Sendable {
    private let dd: Mutex<Int32>
    public let deviceID: Int32

    /// Starts advertising on the adapter. Intervals are in units of 0.625 ms (160 = 100 ms).
    public init(
        deviceID: Int32,
        advertisingData: [UInt8],
        scanResponse: [UInt8],
        minInterval: UInt16 = 160,
        maxInterval: UInt16 = 240
    ) throws(BluetoothError) {
        let dd = hci_open_dev(deviceID)
        if dd < 0 { throw BluetoothError.fromErrno(errno, "opening hci\(deviceID) for advertising") }
        var status: UInt8 = 0
        func check(_ rc: Int32, _ what: String) throws(BluetoothError) {
            if rc < 0 {
                let e = errno
                hci_close_dev(dd)
                throw BluetoothError.fromErrno(e, "hci\(deviceID): \(what)")
            }
            if status != 0 {
                hci_close_dev(dd)
                throw BluetoothError(
                    code: .io,
                    message:
                        "hci\(deviceID): the controller refused \(what) (HCI status 0x\(String(status, radix: 16))); "
                        + "is bluetoothd advertising on it, or is the adapter down (`hciconfig hci\(deviceID) up`)?"
                )
            }
        }
        _ = warden_bt_le_adv_enable(dd, 0, &status)  // may fail when not advertising: ignore
        status = 0
        try check(warden_bt_le_adv_params(dd, minInterval, maxInterval, &status), "LE Set Advertising Parameters")
        try check(
            advertisingData.withUnsafeBufferPointer {
                warden_bt_le_adv_data(dd, $0.baseAddress, UInt8(advertisingData.count), 0, &status)
            },
            "LE Set Advertising Data"
        )
        try check(
            scanResponse.withUnsafeBufferPointer {
                warden_bt_le_adv_data(dd, $0.baseAddress, UInt8(scanResponse.count), 1, &status)
            },
            "LE Set Scan Response Data"
        )
        try check(warden_bt_le_adv_enable(dd, 1, &status), "LE Set Advertising Enable")
        self.dd = Mutex(dd)
        self.deviceID = deviceID
    }

    /// Turns advertising back on. A controller stops connectable advertising when a central connects, so the lock
    /// calls this after every session; "Command Disallowed" (already advertising) is harmless.
    public func resume() {
        dd.withLock { d in
            guard d >= 0 else { return }
            var status: UInt8 = 0
            _ = warden_bt_le_adv_enable(d, 1, &status)
        }
    }

    public func stop() {
        dd.withLock { d in
            guard d >= 0 else { return }
            var status: UInt8 = 0
            _ = warden_bt_le_adv_enable(d, 0, &status)
            hci_close_dev(d)
            d = -1
        }
    }

    deinit { stop() }
}
