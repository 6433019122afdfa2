import Metrics

/// The sync's Prometheus series (docs/operations.md lists them). Handles are made once: a board records on every
/// tick and acknowledgement, and a lookup per record would cost the factory's lock each time.
struct SyncMetrics: Sendable {
    let connected = Gauge(label: "warden_mqtt_connected")
    let reconnects = Counter(label: "warden_mqtt_reconnects_total")
    let unacknowledged = Gauge(label: "warden_audit_unacknowledged_records")
    let inFlight = Gauge(label: "warden_audit_batches_in_flight")
    let acknowledged = Gauge(label: "warden_audit_acknowledged_seq")
    let resends = Counter(label: "warden_audit_resends_total")
    let ackWait = Timer(label: "warden_audit_ack_seconds")

    /// The upload's position, after anything that moves it.
    func upload(durable: Int64, acknowledged seq: Int64, batchesInFlight: Int) {
        unacknowledged.record(max(0, durable - seq))
        acknowledged.record(seq)
        inFlight.record(batchesInFlight)
    }
}
