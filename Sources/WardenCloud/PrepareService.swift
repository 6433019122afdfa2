import Foundation
import Logging
import ServiceLifecycle

/// Applies the migrations and creates the month partitions before anything reads or writes; then, once a day,
/// the partitions ahead and the retention of support bundles. A failed daily pass is retried the next day and
/// never stops the server (the partitions are made three months ahead).
struct PrepareService: Service {
    let store: CloudStore
    let supportBundleRetention: Duration
    let logger: Logger

    func run() async throws {
        let ran = try await store.migrate()
        logger.info("database schema current", metadata: ["migrations_applied": "\(ran)"])
        await PeriodicPass.run(every: .seconds(86_400), logger: logger, what: "daily housekeeping") {
            try await store.ensurePartitions(around: Date())
            let cutoff = Date().addingTimeInterval(-Double(supportBundleRetention.components.seconds))
            let pruned = try await store.pruneSupportBundles(requestedBefore: cutoff)
            if pruned > 0 {
                logger.notice("old support bundles deleted", metadata: ["bundles": "\(pruned)"])
            }
        }
    }
}
