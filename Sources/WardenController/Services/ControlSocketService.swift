import ServiceLifecycle

/// The local control socket (bound before the group starts); stops accepting and removes its file on shutdown.
struct ControlSocketService: Service {
    let server: ControlServer
    let health: DaemonHealth

    func run() async throws {
        server.start()
        health.serving("control socket")
        try? await gracefulShutdown()
        server.stop()
    }
}
