/// Which journal records to upload next, as a value (docs/mqtt.md section 6): a bounded window of batches in flight,
/// cumulative acknowledgements that arrive only after the cloud's database commit, and a re-send from the oldest
/// unacknowledged record when an acknowledgement is overdue (doubling up to a ceiling). It never reads the journal
/// or the network: the sync feeds it positions and times, so every rule is tested with a controlled clock.
public struct AuditUploader: Sendable, Equatable {
    struct InFlight: Sendable, Equatable {
        var first: Int64
        var last: Int64
        var sentAt: Duration
    }

    /// Everything up to here is committed in the cloud (and may be freed on the board).
    public private(set) var acknowledged: Int64
    /// Everything up to here has been handed to the broker in this connection.
    public private(set) var sentUpTo: Int64
    private(set) var inFlight: [InFlight] = []
    public let window: Int
    public let ackTimeout: Duration
    public let maxAckTimeout: Duration
    /// The current wait for an acknowledgement: `ackTimeout`, doubled by every timeout, reset by progress.
    public private(set) var timeout: Duration

    public init(
        acknowledged: Int64,
        window: Int = 8,
        ackTimeout: Duration = .seconds(30),
        maxAckTimeout: Duration = .seconds(300)
    ) {
        self.acknowledged = acknowledged
        self.sentUpTo = acknowledged
        self.window = window
        self.ackTimeout = ackTimeout
        self.maxAckTimeout = max(ackTimeout, maxAckTimeout)
        self.timeout = ackTimeout
    }

    public var batchesInFlight: Int { inFlight.count }

    /// A new connection (or a `sync` command): everything not acknowledged goes again, from the oldest record, and
    /// the acknowledgement wait starts over (its doubling was about the old connection).
    public mutating func restart() {
        sentUpTo = acknowledged
        inFlight = []
        timeout = ackTimeout
    }

    /// Where the next batch starts (after this sequence number), or nil while the window is full or nothing new is
    /// durable. Only durable records are sent: the cloud must never hold a record the board could still lose.
    public func nextBatch(durable: Int64) -> Int64? {
        guard inFlight.count < window, durable > sentUpTo else { return nil }
        return sentUpTo
    }

    /// A batch of records `first...last` was handed to the broker.
    public mutating func sent(first: Int64, last: Int64, at now: Duration) {
        precondition(first == sentUpTo + 1 && last >= first, "batches are consecutive")
        inFlight.append(InFlight(first: first, last: last, sentAt: now))
        sentUpTo = last
    }

    /// How long each batch that an acknowledgement up to `seq` completes has waited for it since it was sent: the
    /// board's view of the cloud's end-to-end latency (publish, broker, consumer, commit, acknowledgement).
    public func roundTrips(upTo seq: Int64, at now: Duration) -> [Duration] {
        guard seq > acknowledged else { return [] }
        return inFlight.filter { $0.last <= seq }.map { now - $0.sentAt }
    }

    /// The cloud committed every record up to `seq` (the caller has checked the hash). Returns false for an old or
    /// repeated acknowledgement, which changes nothing.
    @discardableResult
    public mutating func acknowledge(upTo seq: Int64) -> Bool {
        guard seq > acknowledged else { return false }
        acknowledged = seq
        inFlight.removeAll { $0.last <= seq }
        if let i = inFlight.indices.first { inFlight[i].first = max(inFlight[i].first, seq + 1) }
        if sentUpTo < seq { sentUpTo = seq }
        timeout = ackTimeout
        return true
    }

    /// When the oldest batch in flight is overdue: true, and the upload starts again from the oldest
    /// unacknowledged record with a doubled wait. What a broker dropped silently is found and sent again here.
    public mutating func checkTimeout(at now: Duration) -> Bool {
        guard let oldest = inFlight.first, now - oldest.sentAt >= timeout else { return false }
        sentUpTo = acknowledged
        inFlight = []
        timeout = min(timeout * 2, maxAckTimeout)
        return true
    }
}
