import WardenWire

/// The board's side of signed time (docs/mqtt.md section 9): one outstanding nonce, answered once, within the
/// round-trip bound. A recorded answer (another nonce, or this nonce again) and a late one are refused.
public struct TimeRequestTracker: Sendable, Equatable {
    public let maxRoundTrip: Duration
    private var outstanding: (nonce: String, sentAt: Duration)?

    public init(maxRoundTrip: Duration = .seconds(10)) { self.maxRoundTrip = maxRoundTrip }

    public static func == (a: Self, b: Self) -> Bool {
        a.maxRoundTrip == b.maxRoundTrip && a.outstanding?.nonce == b.outstanding?.nonce
            && a.outstanding?.sentAt == b.outstanding?.sentAt
    }

    /// A request is waiting for its answer (and is not yet overdue).
    public func waiting(at now: Duration) -> Bool {
        guard let o = outstanding else { return false }
        return now - o.sentAt < maxRoundTrip
    }

    public mutating func requested(nonce: String, at now: Duration) { outstanding = (nonce, now) }

    public enum Verdict: Sendable, Equatable {
        /// Use `time + roundTrip / 2` as the reference.
        case accept(roundTrip: Duration)
        case refuse(String)
    }

    /// Checks a verified answer against the outstanding request; an accepted nonce is spent.
    public mutating func answer(_ t: SignedTime, device: String, at now: Duration) -> Verdict {
        guard t.dev == device else { return .refuse("time answer for device '\(t.dev)', this is '\(device)'") }
        guard let o = outstanding, o.nonce == t.nonce else {
            return .refuse("time answer for a nonce this board is not waiting for (replayed or unsolicited)")
        }
        let roundTrip = now - o.sentAt
        outstanding = nil
        guard roundTrip <= maxRoundTrip else {
            return .refuse("time answer arrived after \(roundTrip), over the \(maxRoundTrip) bound")
        }
        return .accept(roundTrip: roundTrip)
    }
}
