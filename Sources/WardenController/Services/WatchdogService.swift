import Logging
import ServiceLifecycle

/// READY=1 once every part serves, then WATCHDOG=1 every half WatchdogSec while every part is alive (the door actor
/// answers, the accept loops and the GPIO loop run). A part that died for good stops the pings: systemd restarts
/// wardend, and its ExecStopPost locks the relay.
struct WatchdogService: Service {
    let notifier: SystemdNotifier
    let health: DaemonHealth
    let onReady: @Sendable () async -> Void
    let logger: Logger

    func run() async throws {
        while !health.allServing {
            try? await Task.sleep(for: .milliseconds(5))
            if Task.isShuttingDownGracefully { return }
        }
        await onReady()
        notifier.notify("READY=1")
        let interval = notifier.watchdogInterval ?? .seconds(5)
        var reported: [String] = []
        while !Task.isShuttingDownGracefully {
            let bad = await health.unhealthy()
            if bad.isEmpty {
                notifier.notify("WATCHDOG=1")
            } else if bad != reported {
                logger.critical(
                    "part of wardend stopped working; no more watchdog pings, systemd will restart it",
                    metadata: ["parts": "\(bad.joined(separator: ", "))"]
                )
            }
            reported = bad
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }
}
