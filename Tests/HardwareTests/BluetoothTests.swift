import BlueZ
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The BlueZ backend is compiled and linked everywhere; where the kernel has no Bluetooth (this CI machine) the
/// failures must tell an installer what is wrong, and where it has Bluetooth the same calls must succeed.
@Suite struct BluetoothTests {
    let kernelHasBluetooth = BluetoothAdapter.isSupportedByKernel

    @Test func openingTheAdapter() throws {
        if kernelHasBluetooth {
            do {
                let adapter = try BluetoothAdapter()
                #expect(adapter.deviceID >= 0)
                #expect(adapter.name.hasPrefix("hci"))
                #expect(adapter.address != .any)
            } catch {
                // A kernel with Bluetooth but no controller (a VM without a USB dongle) must say so clearly.
                #expect(error.code == .noController)
                #expect(error.message.contains("no Bluetooth controller found (listing hci0...hci15)"))
            }
        } else {
            do {
                _ = try BluetoothAdapter()
                Issue.record("opened a Bluetooth adapter on a kernel without AF_BLUETOOTH")
            } catch {
                #expect(error.code == .notSupported)
                #expect(error.message.contains("Bluetooth is not available"))
                #expect(error.message.contains("AF_BLUETOOTH"))
                #expect(error.message.contains("listing hci0...hci15"))
                #expect(error.message.contains("bluetoothctl show"))
            }
        }
    }

    @Test func creatingAnL2CAPListener() throws {
        if kernelHasBluetooth {
            // Binding and listening need no controller; the kernel picks a PSM from the LE dynamic range.
            let listener = try L2CAPListener(psm: 0, security: .low, receiveMTU: 1024)
            #expect((0x80...0xFF).contains(listener.psm))
            listener.close()
        } else {
            do {
                _ = try L2CAPListener(psm: 0x81)
                Issue.record("created an L2CAP socket on a kernel without AF_BLUETOOTH")
            } catch {
                #expect(error.code == .notSupported)
                #expect(
                    error.message.hasPrefix(
                        "Bluetooth is not available: the kernel has no AF_BLUETOOTH support (Address family not "
                            + "supported by protocol"
                    )
                )
                #expect(error.message.contains("BTPROTO_L2CAP"))
                #expect(error.message.contains("bluetoothctl show"))
            }
        }
    }

    @Test func aPSMOutsideTheLERangeIsRefusedBeforeAnySyscall() {
        do {
            _ = try L2CAPListener(psm: 0x1001)
            Issue.record("accepted a BR/EDR PSM for an LE listener")
        } catch {
            #expect(error.code == .invalidArgument)
            #expect(error.message.contains("0x80-0xFF"))
        }
    }

    @Test func missingControllerMessageTellsWhatToCheck() {
        let error = BluetoothError.fromErrno(ENODEV, "hci_get_route")
        #expect(error.code == .noController)
        #expect(
            error.message.hasPrefix(
                "no Bluetooth controller found (hci_get_route): is the adapter powered and not blocked by rfkill?"
            )
        )
    }

    @Test func addressesParseAndPrintInDisplayOrder() throws {
        let address = try #require(BluetoothAddress("DC:A6:32:01:02:0f"))
        #expect(address.description == "DC:A6:32:01:02:0F")
        #expect(BluetoothAddress("DC:A6:32:01:02") == nil)
        #expect(BluetoothAddress.any.description == "00:00:00:00:00:00")
    }
}
