import Foundation
import Metrics
import WardenWire

/// The consumer's Prometheus series (docs/operations.md lists them), made once per ingester.
struct IngestMetrics: Sendable {
    let events = Counter(label: "warden_cloud_audit_events_total")
    let batches = Counter(label: "warden_cloud_audit_batches_total")
    let refused = Counter(label: "warden_cloud_audit_refused_total")
    let flagged = Counter(label: "warden_cloud_audit_flagged_total")
    let acks = Counter(label: "warden_cloud_audit_acks_total")
    let failedTransactions = Counter(label: "warden_cloud_audit_failed_transactions_total")
    let commit = Timer(label: "warden_cloud_audit_commit_seconds")
    let queued = Gauge(label: "warden_cloud_audit_queued_batches")
    /// How old the newest event of the last transaction was when it committed: near zero when the consumer keeps up
    /// with live boards; large while boards replay what they journaled offline.
    let lag = Gauge(label: "warden_cloud_audit_lag_seconds")

    func committed(_ items: [CloudStore.IngestItem], results: [CloudStore.IngestResult?], took: Duration) {
        commit.recordNanoseconds(took.components.seconds * 1_000_000_000 + took.components.attoseconds / 1_000_000_000)
        batches.increment(by: items.count)
        var inserted = 0
        var flaggedRows = 0
        var newest: Int64 = 0
        for (item, result) in zip(items, results) {
            guard let result, result.inserted > 0 else { continue }
            inserted += result.inserted
            flaggedRows += result.flagged
            newest = max(newest, item.batch.records.last?.atMillis ?? 0)
        }
        if inserted > 0 { events.increment(by: inserted) }
        if flaggedRows > 0 { flagged.increment(by: flaggedRows) }
        if newest > 0 { lag.record(max(0, Date().timeIntervalSince1970 - Double(newest) / 1000)) }
    }
}
