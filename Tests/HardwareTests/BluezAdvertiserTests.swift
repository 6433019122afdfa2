import BlueZ
import Foundation
import Testing

/// The D-Bus side of advertising under bluetoothd, against a real dbus-daemon: the exported
/// org.bluez.LEAdvertisement1 object as bluetoothd reads it (through `busctl`, a second real client), the error when
/// no bluetoothd is on the bus, Release, and the object vanishing on stop. bluetoothd itself registering it on a real
/// controller runs in the kernel VM (scripts/vm/ble-scenarios.sh, section j).
@Suite(.serialized) struct BluezAdvertiserTests {
    static let uuid = "3f1d0001-8a5c-4c44-9b7e-57415244454e"
    static let serviceData: [UInt8] = [0x01, 0x81, 0x00, 0x1a, 0x2e, 0xb4, 0x29, 0x5e, 0xe1, 0x61, 0x79]

    @Test func noBluetoothdOnABusOrNoBusAtAll() async throws {
        let bus = try await DBusDaemon.start()
        defer { bus.stop() }
        #expect(!BluezAdvertiser.bluetoothdPresent(busAddress: bus.address))
        #expect(!BluezAdvertiser.bluetoothdPresent(busAddress: "unix:path=\(bus.directory.path)/no-such-bus"))
        let error = #expect(throws: BluetoothError.self) {
            _ = try BluezAdvertiser(
                adapter: "hci0",
                content: .init(serviceUUID: Self.uuid, scanResponseServiceData: Self.serviceData),
                busAddress: "unix:path=\(bus.directory.path)/no-such-bus"
            )
        }
        #expect(error?.code == .dbus)
        #expect(error?.message.contains("cannot reach the D-Bus system bus") == true)
    }

    @Test func exportsTheAdvertisementBluetoothdReads() async throws {
        let bus = try await DBusDaemon.start()
        defer { bus.stop() }
        let advertiser = try BluezAdvertiser(
            adapter: "hci7",
            content: .init(serviceUUID: Self.uuid, scanResponseServiceData: Self.serviceData),
            busAddress: bus.address
        )
        var events = advertiser.events.makeAsyncIterator()

        // No org.bluez on this bus: registration fails with a reason and is retried after 1 s.
        let first = await events.next()
        guard case .failed(let error, let retryIn) = first else {
            Issue.record("first event \(String(describing: first)), expected a failed registration")
            return
        }
        #expect(retryIn == 1)
        #expect(error.code == .dbus)
        #expect(error.message.contains("RegisterAdvertisement on /org/bluez/hci7: bluetoothd is not on the system bus"))
        #expect(error.message.contains("org.freedesktop.DBus.Error.ServiceUnknown"))

        let path = BluezAdvertiser.objectPath(adapter: "hci7")
        #expect(path == "/org/warden/advertisement/hci7")
        #expect(advertiser.uniqueName.hasPrefix(":"))
        let all = try bus.busctl(
            "call",
            advertiser.uniqueName,
            path,
            "org.freedesktop.DBus.Properties",
            "GetAll",
            "s",
            "org.bluez.LEAdvertisement1"
        )
        #expect(all.status == 0, "\(all.output)")
        #expect(
            all.output
                == "a{sv} 4 \"Type\" s \"peripheral\" \"ServiceUUIDs\" as 1 \"\(Self.uuid)\" \"Discoverable\" b true "
                + "\"ScanResponseServiceData\" a{sv} 1 \"\(Self.uuid)\" ay 11 1 129 0 26 46 180 41 94 225 97 121"
        )
        let other = try bus.busctl(
            "call",
            advertiser.uniqueName,
            path,
            "org.freedesktop.DBus.Properties",
            "GetAll",
            "s",
            "org.example.Other"
        )
        #expect(other.output == "a{sv} 0")
        let type = try bus.busctl(
            "call",
            advertiser.uniqueName,
            path,
            "org.freedesktop.DBus.Properties",
            "Get",
            "ss",
            "org.bluez.LEAdvertisement1",
            "Type"
        )
        #expect(type.output == "v s \"peripheral\"")
        let unknown = try bus.busctl(
            "call",
            advertiser.uniqueName,
            path,
            "org.freedesktop.DBus.Properties",
            "Get",
            "ss",
            "org.bluez.LEAdvertisement1",
            "LocalName"
        )
        #expect(unknown.status != 0)
        #expect(unknown.output.contains("no property LocalName"), "\(unknown.output)")
        let method = try bus.busctl("call", advertiser.uniqueName, path, "org.bluez.LEAdvertisement1", "Frobnicate")
        #expect(method.status != 0, "an unknown method is refused: \(method.output)")
        let introspect = try bus.busctl("introspect", advertiser.uniqueName, path, "--xml-interface")
        #expect(introspect.output.contains("<interface name=\"org.bluez.LEAdvertisement1\">"), "\(introspect.output)")

        // bluetoothd releases an advertisement when the adapter goes away: it is registered again (here: fails again).
        let release = try bus.busctl("call", advertiser.uniqueName, path, "org.bluez.LEAdvertisement1", "Release")
        #expect(release.status == 0, "\(release.output)")
        var sawRelease = false
        while let e = await events.next() {
            if e == .released {
                sawRelease = true
                break
            }
        }
        #expect(sawRelease)

        // Stopping closes the connection: the object is gone from the bus and the event stream ends.
        advertiser.stop()
        while await events.next() != nil {}
        let gone = try bus.busctl(
            "call",
            advertiser.uniqueName,
            path,
            "org.freedesktop.DBus.Properties",
            "GetAll",
            "s",
            "org.bluez.LEAdvertisement1"
        )
        #expect(gone.status != 0)
    }
}
