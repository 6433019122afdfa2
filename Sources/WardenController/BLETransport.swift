import BlueZ
import Foundation
import Logging
import WardenProtocol

/// The BLE side of wardend: an LE L2CAP CoC listener on the configured PSM feeding `PresentationService`. Where the
/// kernel or the board has no Bluetooth it says so once, clearly, and wardend keeps serving its other transports.
enum BLETransport {
    /// Largest SDU the lock accepts: one whole frame.
    static let receiveMTU = UInt16(Frame.headerSize + Frame.maxPayload)

    static func start<C: Clock>(
        service: PresentationService<C>,
        psm: Int,
        adapter: String?,
        lockID: String,
        logger: Logger,
        onDead: @escaping @Sendable () -> Void
    ) -> Task<Void, Never>? {
        let listener: L2CAPListener
        do {
            listener = try L2CAPListener(psm: UInt16(psm), security: .low, receiveMTU: receiveMTU)
        } catch {
            logger.warning(
                "BLE presentations are off: \(error.message). The other transports keep working.",
                metadata: ["psm": "0x\(String(psm, radix: 16))"]
            )
            return nil
        }
        logger.info("BLE L2CAP listener ready", metadata: ["psm": "0x\(String(listener.psm, radix: 16))"])
        let ad = Advertisement(lockID: lockID, psm: listener.psm)
        let advertising = Advertising.start(ad, adapter: adapter, logger: logger)
        return Task {
            defer { advertising.stop() }
            // Out of descriptors, buffers or memory passes: back off and keep accepting. Anything else ends the loop
            // (the daemon's watchdog then sees the BLE part dead through `alive`).
            var backoff = Duration.milliseconds(50)
            while !Task.isCancelled {
                do {
                    let channel = try await listener.accept()
                    backoff = .milliseconds(50)
                    Task {
                        await service.handle(BLEFrameChannel(channel))
                        advertising.resume()
                    }
                } catch {
                    let e = error as? BluetoothError
                    if Task.isCancelled || e?.code == .closed { break }
                    if let errno = e?.errno,
                        [EMFILE, ENFILE, ENOBUFS, ENOMEM, EINTR, EAGAIN, ECONNABORTED].contains(errno)
                    {
                        logger.warning(
                            "BLE accept failed; retrying",
                            metadata: ["error": "\(error)", "in": "\(backoff)"]
                        )
                        try? await Task.sleep(for: backoff)
                        backoff = min(backoff * 2, .seconds(2))
                        continue
                    }
                    logger.error("BLE accept failed for good", metadata: ["error": "\(error)"])
                    onDead()
                    break
                }
            }
            listener.close()
        }
    }
}
