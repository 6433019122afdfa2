import Logging
import ServiceLifecycle

/// The loop of the cloud's background services (rollouts, one-time keys, webhooks, access-list re-sends): a pass
/// every `interval` until a graceful shutdown or a cancellation. A failed pass is logged and the next one retries,
/// so a PostgreSQL restart or a broker hiccup costs one interval, never the service; an error that comes from the
/// shutdown itself ends the loop quietly.
enum PeriodicPass {
    static func run(
        every interval: Duration,
        logger: Logger,
        what: String,
        _ pass: () async throws -> Void
    ) async {
        while !Task.isCancelled, !Task.isShuttingDownGracefully {
            do { try await pass() } catch  where Task.isShuttingDownGracefully || Task.isCancelled {
                break
            } catch {
                logger.warning("\(what) failed; retrying", metadata: ["error": "\(String(reflecting: error))"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }
}
