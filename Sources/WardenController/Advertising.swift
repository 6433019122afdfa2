import BlueZ
import Logging
import Synchronization
import WardenProtocol

/// Keeps the lock advertised, whichever way the board allows (docs/hardware.md, "BLE"): through bluetoothd's D-Bus
/// LEAdvertisingManager1 while bluetoothd is on the system bus (it owns the controller then, and raw HCI commands
/// would fight it), otherwise with raw HCI commands on a controller wardend powers on itself. It follows bluetoothd
/// coming and going: started after wardend, or restarted, it takes over within `checkInterval`; gone for longer than
/// `bluetoothdGrace` (stopped for good, not restarting), raw HCI takes over. Failing to advertise never stops
/// wardend: a phone that knows the address and PSM still connects, and the other transports keep working.
final class Advertising: Sendable {
    enum Mode: Sendable {
        case none
        case hci(LEAdvertiser)
        case bluetoothd(BluezAdvertiser, events: Task<Void, Never>)
    }

    static let checkInterval: Duration = .seconds(3)
    static let bluetoothdGrace: Duration = .seconds(10)

    private let ad: Advertisement
    private let adapter: String?
    private let logger: Logger
    private let busAddress: String?
    private let mode = Mutex<Mode>(.none)
    /// When bluetoothd left the bus while we advertised through it (nil: it is there).
    private let bluetoothdGoneSince = Mutex<ContinuousClock.Instant?>(nil)
    private let supervisor = Mutex<Task<Void, Never>?>(nil)
    /// The last failure logged as a warning, so a retry loop logs a new reason once, not every few seconds.
    private let lastFailure = Mutex("")

    /// `adapter` is the configured controller (`hci0`); nil means the lowest-numbered powered one.
    static func start(_ ad: Advertisement, adapter: String?, logger: Logger, busAddress: String? = nil) -> Advertising {
        let a = Advertising(ad: ad, adapter: adapter, logger: logger, busAddress: busAddress)
        a.establish()
        a.supervisor.withLock { $0 = Task { await a.supervise() } }
        return a
    }

    private init(ad: Advertisement, adapter: String?, logger: Logger, busAddress: String?) {
        self.ad = ad
        self.adapter = adapter
        self.logger = logger
        self.busAddress = busAddress
    }

    /// After a session: raw HCI advertising must be switched back on (a controller stops when a phone connects);
    /// under bluetoothd the kernel does it.
    func resume() {
        if case .hci(let a) = mode.withLock({ $0 }) { a.resume() }
    }

    func stop() {
        supervisor.withLock { $0?.cancel() }
        switch mode.withLock({ m in
            defer { m = .none }
            return m
        }) {
        case .hci(let a): a.stop()
        case .bluetoothd(let a, let events):
            a.stop()
            events.cancel()
        case .none: break
        }
    }

    // MARK: the supervisor

    private func supervise() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: Self.checkInterval)
            if Task.isCancelled { return }
            switch mode.withLock({ $0 }) {
            case .none:
                establish()
            case .hci(let a):
                if BluezAdvertiser.bluetoothdPresent(busAddress: busAddress) {
                    logger.notice("bluetoothd appeared on the system bus: advertising through it instead of raw HCI")
                    a.stop()
                    mode.withLock { $0 = .none }
                    establish()
                } else {
                    a.resume()  // backstop: some controllers refuse the re-enable while the last link is still up
                }
            case .bluetoothd(let a, let events):
                if let gone = bluetoothdGoneSince.withLock({ $0 }), ContinuousClock.now - gone >= Self.bluetoothdGrace {
                    logger.warning(
                        "bluetoothd has been gone for \(Self.bluetoothdGrace.components.seconds) s: advertising over raw HCI until it is back"
                    )
                    a.stop()
                    events.cancel()
                    bluetoothdGoneSince.withLock { $0 = nil }
                    mode.withLock { $0 = .none }
                    establish()
                }
            }
        }
    }

    /// From `.none`: bluetoothd if it is on the bus, else raw HCI. Leaves `.none` when neither works (retried).
    private func establish() {
        if BluezAdvertiser.bluetoothdPresent(busAddress: busAddress) {
            startThroughBluetoothd()
        } else {
            startOverHCI()
        }
    }

    private func warnOnce(_ message: String) {
        let isNew = lastFailure.withLock { last in
            defer { last = message }
            return last != message
        }
        if isNew { logger.warning("\(message)") } else { logger.debug("\(message)") }
    }

    private func startOverHCI() {
        do {
            let id = try BluetoothAdapter(named: adapter).deviceID  // nil: the lowest-numbered one, powered first
            try BluetoothAdapter.powerOn(deviceID: id)
            let a = try LEAdvertiser(deviceID: id, advertisingData: ad.advertisingData, scanResponse: ad.scanResponse)
            mode.withLock { $0 = .hci(a) }
            lastFailure.withLock { $0 = "" }
            logger.info(
                "advertising the Warden service",
                metadata: ["adapter": "hci\(id)", "via": "hci", "uuid": "\(Advertisement.serviceUUIDString)"]
            )
        } catch {
            warnOnce(
                "BLE advertising failed: \(error.message); retrying every \(Self.checkInterval.components.seconds) s. Phones that know the address and PSM can still connect"
            )
        }
    }

    private func startThroughBluetoothd() {
        // bluetoothd may not have powered the adapter yet: registration retries until it has.
        let name = adapter ?? BluetoothAdapter.defaultDeviceID().map { "hci\($0)" } ?? "hci0"
        let content = BluezAdvertiser.Content(
            serviceUUID: Advertisement.serviceUUIDString,
            scanResponseServiceData: ad.serviceData
        )
        let advertiser: BluezAdvertiser
        do {
            advertiser = try BluezAdvertiser(adapter: name, content: content, busAddress: busAddress)
        } catch {
            warnOnce("BLE advertising through bluetoothd failed: \(error.message)")
            return
        }
        logger.info(
            "bluetoothd owns the Bluetooth adapter: advertising through its D-Bus LEAdvertisingManager1",
            metadata: ["adapter": "\(name)", "object": "\(BluezAdvertiser.objectPath(adapter: name))"]
        )
        if ad.psm != Advertisement.defaultPSM {
            logger.warning(
                "ble_psm is not the default 0x81: phones find a non-default PSM only in the scan response, which bluetoothd fills only from BlueZ 5.80 on with experimental interfaces (-E); with an older bluetoothd use ble_psm 0x81",
                metadata: ["psm": "0x\(String(ad.psm, radix: 16))"]
            )
        }
        bluetoothdGoneSince.withLock { $0 = nil }
        let events = Task { [weak self, logger] in
            for await event in advertiser.events {
                switch event {
                case .registered(let adapter):
                    self?.lastFailure.withLock { $0 = "" }
                    logger.info(
                        "advertising the Warden service",
                        metadata: [
                            "adapter": "\(adapter)", "via": "bluetoothd", "uuid": "\(Advertisement.serviceUUIDString)",
                        ]
                    )
                case .failed(let error, _):
                    // The same refusal every 30 s is one warning, then debug lines.
                    self?.warnOnce(
                        "BLE advertising through bluetoothd failed: \(error.message); retrying (1 s, doubling to 30 s)"
                    )
                case .released:
                    logger.warning(
                        "bluetoothd released the advertisement (adapter powered off or removed); registering again"
                    )
                case .bluetoothdGone:
                    self?.bluetoothdGoneSince.withLock { $0 = .now }
                    logger.warning(
                        "bluetoothd left the system bus: the lock is not advertising until it is back (raw HCI takes over after \(Advertising.bluetoothdGrace.components.seconds) s)"
                    )
                case .bluetoothdBack:
                    self?.bluetoothdGoneSince.withLock { $0 = nil }
                    logger.notice("bluetoothd is back on the system bus: registering the advertisement again")
                }
            }
        }
        mode.withLock { $0 = .bluetoothd(advertiser, events: events) }
    }
}
