import BlueZ
import Logging
import WardenKey

/// Which way the lock advertises, chosen once at start (docs/hardware.md, "BLE"): through bluetoothd's D-Bus
/// LEAdvertisingManager1 when bluetoothd is on the system bus (it owns the controller there, and raw HCI commands
/// would fight it), otherwise with raw HCI commands. Failing to advertise never stops wardend: a phone that knows
/// the address and PSM still connects, and the other transports keep working.
enum Advertising {
    case hci(LEAdvertiser, keepAlive: Task<Void, Never>)
    case bluetoothd(BluezAdvertiser, events: Task<Void, Never>)
    case none

    /// `adapter` is the configured controller (`hci0`); nil means the lowest-numbered powered one.
    static func start(_ ad: Advertisement, adapter: String?, logger: Logger, busAddress: String? = nil) -> Advertising {
        if BluezAdvertiser.bluetoothdPresent(busAddress: busAddress) {
            // bluetoothd may not have powered the adapter yet: registration retries until it has.
            let name = adapter ?? BluetoothAdapter.defaultDeviceID().map { "hci\($0)" } ?? "hci0"
            return startThroughBluetoothd(ad, adapter: name, logger: logger, busAddress: busAddress)
        }
        do {
            let adapterID = try BluetoothAdapter(named: adapter).deviceID
            let a = try LEAdvertiser(deviceID: adapterID, advertisingData: ad.advertisingData, scanResponse: ad.scanResponse)
            logger.info(
                "advertising the Warden service",
                metadata: ["adapter": "hci\(adapterID)", "via": "hci", "uuid": "\(Advertisement.serviceUUIDString)"])
            // The controller stops advertising when a phone connects: turn it back on after each session (`resume`),
            // and every few seconds as a backstop (some controllers refuse while the link is still up).
            let keepAlive = Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(3))
                    a.resume()
                }
            }
            return .hci(a, keepAlive: keepAlive)
        } catch {
            logger.warning("BLE advertising failed: \(error.message); phones that know the address and PSM can still connect")
            return .none
        }
    }

    private static func startThroughBluetoothd(_ ad: Advertisement, adapter: String, logger: Logger, busAddress: String?) -> Advertising {
        let content = BluezAdvertiser.Content(
            serviceUUID: Advertisement.serviceUUIDString, scanResponseServiceData: ad.serviceData)
        let advertiser: BluezAdvertiser
        do {
            advertiser = try BluezAdvertiser(adapter: adapter, content: content, busAddress: busAddress)
        } catch {
            logger.warning("BLE advertising failed: \(error.message); phones that know the address and PSM can still connect")
            return .none
        }
        logger.info(
            "bluetoothd owns the Bluetooth adapter: advertising through its D-Bus LEAdvertisingManager1",
            metadata: ["adapter": "\(adapter)", "object": "\(BluezAdvertiser.objectPath(adapter: adapter))"])
        if ad.psm != Advertisement.defaultPSM {
            logger.warning(
                "ble_psm is not the default 0x81: phones find a non-default PSM only in the scan response, which bluetoothd fills only from BlueZ 5.80 on with experimental interfaces (-E); with an older bluetoothd use ble_psm 0x81",
                metadata: ["psm": "0x\(String(ad.psm, radix: 16))"])
        }
        let events = Task {
            var lastFailure = ""
            for await event in advertiser.events {
                switch event {
                case .registered(let adapter):
                    lastFailure = ""
                    logger.info(
                        "advertising the Warden service",
                        metadata: ["adapter": "\(adapter)", "via": "bluetoothd", "uuid": "\(Advertisement.serviceUUIDString)"])
                case .failed(let error, let retryIn):
                    // The same refusal every 30 s is one warning, then debug lines.
                    if error.message != lastFailure {
                        logger.warning("BLE advertising through bluetoothd failed: \(error.message); retrying in \(retryIn) s")
                    } else {
                        logger.debug("BLE advertising through bluetoothd failed again", metadata: ["retry_s": "\(retryIn)"])
                    }
                    lastFailure = error.message
                case .released:
                    logger.warning("bluetoothd released the advertisement (adapter powered off or removed); registering again")
                case .bluetoothdGone:
                    logger.warning("bluetoothd left the system bus: the lock is not advertising until it is back")
                case .bluetoothdBack:
                    logger.notice("bluetoothd is back on the system bus: registering the advertisement again")
                }
            }
        }
        return .bluetoothd(advertiser, events: events)
    }

    /// After a session: raw HCI advertising must be switched back on; bluetoothd (the kernel) does it by itself.
    func resume() {
        if case .hci(let a, _) = self { a.resume() }
    }

    func stop() {
        switch self {
        case .hci(let a, let keepAlive):
            keepAlive.cancel()
            a.stop()
        case .bluetoothd(let a, let events):
            a.stop()
            events.cancel()
        case .none:
            break
        }
    }
}
