import Foundation

/// Board time without a real-time clock. The board persists a high-water mark (the latest time it has trusted) and
/// never lets "now" go behind it, so a clock reset to 1970 or to an old image date cannot revive expired credentials.
///
/// Policy (docs/time.md): after a cold boot with no sync, a wall clock at or after the high-water mark (minus a small
/// tolerance) is *plausible* and used; a wall clock behind it means the clock was reset, and time is *unknown* until
/// the cloud or NTP syncs it. While unknown, `UnknownTimePolicy` decides: `deny` (default, fail secure) or
/// `highWaterMark` (evaluate at the mark: expiry checks stay sound, since real time is at least the mark).
public struct TrustedTime: Sendable, Equatable {
    public enum UnknownTimePolicy: String, Sendable, Codable, Equatable {
        case deny
        case highWaterMark = "high-water-mark"
    }

    public enum Assessment: Sendable, Equatable {
        case trusted(Date)
        case unknown(highWaterMark: Date)
        /// The clock jumped forward past the mark by more than `maxForwardJump`: not trusted until a trusted
        /// reference or an operator confirms it. The mark does not follow it.
        case unconfirmed(wallClock: Date, highWaterMark: Date)
    }

    public private(set) var highWaterMark: Date
    /// Offset added to the wall clock after a sync from a trusted reference (cloud time), in seconds.
    public private(set) var offset: TimeInterval = 0
    public private(set) var synced = false
    public var policy: UnknownTimePolicy
    /// A wall clock this far behind the mark is still plausible (the mark is persisted ahead of use).
    public var tolerance: TimeInterval
    /// A clock more than this far ahead of the mark is `unconfirmed`: an unauthenticated time source (SNTP on a
    /// hostile LAN) can then neither hold a door open on a schedule nor drag the mark into the future.
    public var maxForwardJump: TimeInterval

    public init(
        highWaterMark: Date,
        policy: UnknownTimePolicy = .deny,
        tolerance: TimeInterval = 120,
        maxForwardJump: TimeInterval = 86_400
    ) {
        self.highWaterMark = highWaterMark
        self.policy = policy
        self.tolerance = tolerance
        self.maxForwardJump = maxForwardJump
    }

    /// No mark yet (a new board): the first clock reading has nothing to be compared with.
    var hasMark: Bool { highWaterMark.timeIntervalSince1970 > 0 }

    /// Assess the wall clock; advances the mark only when time is trusted.
    public mutating func assess(wallClock: Date) -> Assessment {
        let now = wallClock.addingTimeInterval(offset)
        if !synced && now < highWaterMark.addingTimeInterval(-tolerance) {
            return .unknown(highWaterMark: highWaterMark)
        }
        if hasMark && now > highWaterMark.addingTimeInterval(maxForwardJump) {
            return .unconfirmed(wallClock: now, highWaterMark: highWaterMark)
        }
        if now > highWaterMark { highWaterMark = now }
        return .trusted(max(now, highWaterMark))
    }

    /// The time decisions should be evaluated at, or nil when they must be denied for want of time. Unknown and
    /// unconfirmed time follow `policy`; an unconfirmed clock is never used itself (it could make a credential valid
    /// early).
    public mutating func decisionTime(wallClock: Date) -> Date? {
        decisionTime(for: assess(wallClock: wallClock))
    }

    /// `decisionTime` for an assessment already made.
    public func decisionTime(for assessment: Assessment) -> Date? {
        switch assessment {
        case .trusted(let t): return t
        case .unknown(let mark), .unconfirmed(_, let mark): return policy == .highWaterMark ? mark : nil
        }
    }

    /// Time trusted enough to hold a door open (passage schedules): only `.trusted`, whatever the policy.
    public mutating func trustedTime(wallClock: Date) -> Date? {
        if case .trusted(let t) = assess(wallClock: wallClock) { return t }
        return nil
    }

    /// An operator at the board (root, `wardenctl time confirm`) vouches for the current wall clock: it becomes
    /// trusted and the mark follows it.
    public mutating func confirm(wallClock: Date) {
        offset = 0
        synced = true
        if wallClock > highWaterMark { highWaterMark = wallClock }
    }

    /// A trusted reference time arrived (cloud time signed by the authority, or NTP reported synchronised). It may
    /// move the effective clock back below the mark only if `allowRewind` (an authority-signed correction for a
    /// clock that ran into the future); otherwise the mark stands.
    public mutating func sync(reference: Date, wallClock: Date, allowRewind: Bool = false) {
        offset = reference.timeIntervalSince(wallClock)
        synced = true
        if allowRewind || reference > highWaterMark { highWaterMark = reference }
    }
}
