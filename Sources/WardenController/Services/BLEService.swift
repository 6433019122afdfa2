import Logging
import ServiceLifecycle

/// BLE presentations: the L2CAP listener and advertising. Where the board has no Bluetooth it says so once and
/// serves nothing; wardend keeps its other transports.
struct BLEService<C: Clock>: Service where C.Duration == Duration {
    let service: PresentationService<C>
    let psm: Int
    let adapter: String?
    let lockID: String
    let logger: Logger
    let health: DaemonHealth

    func run() async throws {
        let task = BLETransport.start(
            service: service,
            psm: psm,
            adapter: adapter,
            lockID: lockID,
            logger: logger,
            onDead: { [health] in health.failed("ble") }
        )
        health.serving("ble")
        try? await gracefulShutdown()
        task?.cancel()
        await task?.value
    }
}
