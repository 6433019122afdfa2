import ServiceLifecycle

/// The door: runs the controller until shutdown, then drives the relay locked, records the stop and flushes.
struct DoorService: Service {
    let controller: DoorController<ContinuousClock>
    let health: DaemonHealth
    let reason: @Sendable () -> String

    func run() async throws {
        await controller.run()
        health.serving("door")
        try? await gracefulShutdown()
        await controller.shutdown(reason: reason())
    }
}
