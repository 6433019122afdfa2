import Foundation

/// What a fleet run did, counted on the boards: the cloud's side (lost, duplicated) is counted from PostgreSQL by
/// whoever runs the benchmark or test, against `lastSeq` here.
public struct FleetSummary: Codable, Sendable {
    public var boards: Int
    public var connected: Int
    /// Seconds from the start of the sync services until every board had connected once (nil if some never did).
    public var allConnectedAfterS: Double?
    public var decisions: Int
    /// Audit records in the boards' journals (decisions, door events, config changes).
    public var events: Int64
    public var acknowledged: Int64
    public var unacknowledged: Int64
    public var reconnects: Int
    public var reconnectP50Ms: Double?
    public var reconnectP99Ms: Double?
    public var reconnectMaxMs: Double?
    /// Audit batches acknowledged, and their wait from the board's publish to the acknowledgement after the cloud's
    /// commit (measured on the board with its monotonic clock).
    public var acknowledgedBatches: Int
    public var ackP50Ms: Double?
    public var ackP99Ms: Double?
    public var ackMaxMs: Double?
    /// Per board: the last seq in its journal and the last one the cloud acknowledged.
    public var perBoard: [String: [Int64]]
    public var rssMB: Double

    public var text: String {
        func ms(_ v: Double?) -> String { v.map { String(format: "%.0f ms", $0) } ?? "-" }
        return """
            boards: \(boards) (\(connected) connected at the end\(allConnectedAfterS.map { String(format: "; all connected %.1f s after start", $0) } ?? "; not all ever connected"))
            decisions: \(decisions)
            audit events: \(events) in the journals, \(acknowledged) acknowledged by the cloud after its commit, \(unacknowledged) not (yet)
            reconnects: \(reconnects) (p50 \(ms(reconnectP50Ms)), p99 \(ms(reconnectP99Ms)), max \(ms(reconnectMaxMs)))
            publish to acknowledgement: \(acknowledgedBatches) batches (p50 \(ms(ackP50Ms)), p99 \(ms(ackP99Ms)), max \(ms(ackMaxMs)))
            memory: \(String(format: "%.1f", rssMB)) MB resident, \(String(format: "%.0f", boards > 0 ? rssMB * 1024 / Double(boards) : 0)) KB per board
            """
    }

    static func percentile(_ sorted: [Double], _ p: Double) -> Double? {
        guard !sorted.isEmpty else { return nil }
        return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))]
    }
}
