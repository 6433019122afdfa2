import Foundation
import Logging
import ServiceLifecycle

/// Rewrites the device CA's revocation list on start and daily: a CRL past its nextUpdate makes OpenSSL refuse every
/// board, so a fresh one must always be on disk for mosquitto's next reload (docs/operations.md).
struct RevocationListService: Service {
    let provisioner: DeviceProvisioner
    let logger: Logger
    var interval: Duration = .seconds(86_400)

    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do { try await provisioner.writeRevocationList(now: Date()) } catch {
                logger.error(
                    "writing the revocation list failed; retrying in a minute",
                    metadata: ["error": "\(error)"]
                )
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(60)) }
                continue
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }
}
