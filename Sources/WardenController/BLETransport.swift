import BlueZ
import Logging
import WardenKey

/// The BLE side of wardend: an LE L2CAP CoC listener on the configured PSM feeding `PresentationService`. Where the
/// kernel or the board has no Bluetooth it says so once, clearly, and wardend keeps serving its other transports.
enum BLETransport {
    /// Largest SDU the lock accepts: one whole frame.
    static let receiveMTU = UInt16(Frame.headerSize + Frame.maxPayload)

    static func start<C: Clock>(service: PresentationService<C>, psm: Int, lockID: String, logger: Logger) -> Task<Void, Never>? {
        let listener: L2CAPListener
        do {
            listener = try L2CAPListener(psm: UInt16(psm), security: .low, receiveMTU: receiveMTU)
        } catch {
            logger.warning(
                "BLE presentations are off: \(error.message). The other transports keep working.",
                metadata: ["psm": "0x\(String(psm, radix: 16))"])
            return nil
        }
        logger.info("BLE L2CAP listener ready", metadata: ["psm": "0x\(String(listener.psm, radix: 16))"])
        let ad = Advertisement(lockID: lockID, psm: listener.psm)
        let advertiser: LEAdvertiser? = {
            do {
                let adapter = try BluetoothAdapter()
                if LEAdvertiser.bluetoothdRunning {
                    logger.warning("bluetoothd runs on this board and may override raw HCI advertising; advertising through its D-Bus LEAdvertisingManager1 is not implemented yet (docs/hardware.md)")
                }
                let a = try LEAdvertiser(deviceID: adapter.deviceID, advertisingData: ad.advertisingData, scanResponse: ad.scanResponse)
                logger.info("advertising the Warden service", metadata: ["adapter": "hci\(adapter.deviceID)", "uuid": "\(Advertisement.serviceUUIDString)"])
                return a
            } catch {
                logger.warning("BLE advertising failed: \((error as? BluetoothError)?.message ?? "\(error)"); phones that know the address and PSM can still connect")
                return nil
            }
        }()
        // The controller stops advertising when a phone connects: turn it back on after each session, and every few
        // seconds as a backstop (some controllers refuse while the link is still up).
        let keepAdvertising = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(3))
                advertiser?.resume()
            }
        }
        return Task {
            defer {
                keepAdvertising.cancel()
                advertiser?.stop()
            }
            while !Task.isCancelled {
                do {
                    let channel = try await listener.accept()
                    Task {
                        await service.handle(BLEFrameChannel(channel))
                        advertiser?.resume()
                    }
                } catch {
                    if !Task.isCancelled { logger.error("BLE accept failed", metadata: ["error": "\(error)"]) }
                    break
                }
            }
            listener.close()
        }
    }
}
