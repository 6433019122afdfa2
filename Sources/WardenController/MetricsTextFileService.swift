import Foundation
import Logging
import Prometheus
import ServiceLifecycle

/// Writes the process's metrics in the Prometheus text format to a file, every interval and once more at shutdown.
/// The file is replaced atomically (a scraper never reads half of it) and is world-readable: it holds counts, never
/// a secret.
public struct MetricsTextFileService: Service {
    let registry: PrometheusCollectorRegistry
    let settings: MetricsSettings
    let logger: Logger

    public init(registry: PrometheusCollectorRegistry, settings: MetricsSettings, logger: Logger) {
        self.registry = registry
        self.settings = settings
        self.logger = logger
    }

    public func run() async throws {
        var warned = false
        while !Task.isCancelled, !Task.isShuttingDownGracefully {
            do { try write() } catch {
                if !warned {
                    logger.warning(
                        "cannot write the metrics file; the door is not affected",
                        metadata: ["file": "\(settings.textFile)", "error": "\(error)"]
                    )
                }
                warned = true
            }
            let interval = settings.interval
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
        try? write()
    }

    /// One snapshot of every metric, replacing the file.
    public func write() throws {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(4096)
        registry.emit(into: &buffer)
        let url = URL(fileURLWithPath: settings.textFile)
        try Data(buffer).write(to: url, options: .atomic)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: settings.textFile)
    }
}
