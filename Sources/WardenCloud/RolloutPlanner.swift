import Foundation
import WardenWire

/// A staged rollout's decisions (docs/updates.md, decision 4), pure: fed the rollout and its boards' progress, it
/// says which boards to order next, which finished, and whether the rollout advances, completes or stops. Waves
/// follow AWS IoT Jobs' rollout rate and abort threshold: a wave is ordered only when every board of the previous
/// one runs the version healthy; more failures in a wave than allowed stop the rollout and say why.
public enum RolloutPlanner {
    /// A wave's size: a number of boards, or a percentage of the rollout's boards; both cumulative ("1", "10%",
    /// "100%": one board, then up to a tenth, then all).
    public enum WaveSize: Equatable, Sendable, CustomStringConvertible {
        case boards(Int)
        case percent(Int)

        /// "3" or "25%"; the error names the accepted forms.
        public init(parsing s: String) throws(CloudError) {
            if s.hasSuffix("%"), let p = Int(s.dropLast()), (1...100).contains(p) {
                self = .percent(p)
            } else if let n = Int(s), n >= 1, n <= 100_000 {
                self = .boards(n)
            } else {
                throw CloudError(.invalid, "wave '\(s)': a number of boards (1-100000) or a percentage (1%-100%)")
            }
        }

        public var description: String {
            switch self {
            case .boards(let n): "\(n)"
            case .percent(let p): "\(p)%"
            }
        }

        func cumulative(of total: Int) -> Int {
            switch self {
            case .boards(let n): min(n, total)
            case .percent(let p): min(total, max(1, (total * p + 99) / 100))
            }
        }
    }

    /// Which wave each board belongs to: boards sorted by id, waves filled up to their cumulative sizes; the last
    /// wave always takes whatever is left, so every board is in one.
    public static func assign(devices: [String], waves: [WaveSize]) -> [[String]] {
        let sorted = devices.sorted()
        var out: [[String]] = []
        var taken = 0
        for (i, w) in waves.enumerated() {
            let upTo = i == waves.count - 1 ? sorted.count : max(taken, w.cumulative(of: sorted.count))
            out.append(Array(sorted[taken..<upTo]))
            taken = upTo
        }
        return out
    }

    public enum DeviceState: String, Sendable, Codable, CaseIterable {
        case pending, ordered, healthy, failed
    }

    /// One board as the service sees it: its row and what its last state reported.
    public struct Device: Equatable, Sendable {
        public var id: String
        public var wave: Int
        public var state: DeviceState
        public var jti: String?
        public var orderedAt: Date?
        /// From the board's last `state`: the installed version and the updater's report.
        public var version: String?
        public var report: UpdateReport?

        public init(
            id: String,
            wave: Int,
            state: DeviceState,
            jti: String? = nil,
            orderedAt: Date? = nil,
            version: String? = nil,
            report: UpdateReport? = nil
        ) {
            self.id = id
            self.wave = wave
            self.state = state
            self.jti = jti
            self.orderedAt = orderedAt
            self.version = version
            self.report = report
        }
    }

    public enum Action: Equatable, Sendable {
        /// Send the signed update order.
        case order(device: String)
        case mark(device: String, DeviceState, detail: String)
        case advance(toWave: Int)
        case complete
        case stop(reason: String)
    }

    /// The next actions for a running rollout at wave `wave` of `waveCount`. A board is healthy when its report for
    /// this order says installed and its state runs `version`; failed on `rolled_back`/`failed`, or when no report
    /// came within `orderTimeout` of the order.
    public static func step(
        version: String,
        wave: Int,
        waveCount: Int,
        maxFailures: Int,
        devices: [Device],
        now: Date,
        orderTimeout: TimeInterval
    ) -> [Action] {
        var actions: [Action] = []
        var states: [String: DeviceState] = [:]
        var details: [String: String] = [:]
        for d in devices {
            var s = d.state
            if s == .ordered {
                if let r = d.report, r.jti == d.jti {
                    if r.status == .installed, d.version == version {
                        s = .healthy
                        actions.append(.mark(device: d.id, .healthy, detail: "runs \(version)"))
                    } else if r.status == .rolledBack || r.status == .failed {
                        s = .failed
                        let why = "\(r.status.rawValue): \(r.detail ?? "no detail") (runs \(r.version ?? "?"))"
                        details[d.id] = why
                        actions.append(.mark(device: d.id, .failed, detail: why))
                    }
                } else if d.version == version, d.report?.jti == nil || d.report?.jti == d.jti {
                    // Already on the version (installed before the order, or the report was lost): healthy.
                    s = .healthy
                    actions.append(.mark(device: d.id, .healthy, detail: "runs \(version)"))
                }
                if s == .ordered, let at = d.orderedAt, now.timeIntervalSince(at) > orderTimeout {
                    s = .failed
                    details[d.id] = "no report within \(Int(orderTimeout)) s of the order"
                    actions.append(.mark(device: d.id, .failed, detail: details[d.id]!))
                }
            }
            states[d.id] = s
        }
        let current = devices.filter { $0.wave == wave }
        let failed = current.filter { states[$0.id] == .failed }
        if failed.count > maxFailures {
            let names = failed.prefix(3).map { "\($0.id) \(details[$0.id] ?? "failed")" }.joined(separator: "; ")
            return actions + [
                .stop(
                    reason:
                        "wave \(wave + 1): \(failed.count) of \(current.count) boards failed (at most \(maxFailures) allowed): \(names)"
                )
            ]
        }
        // Order the current wave's boards that were not ordered yet.
        for d in current where states[d.id] == .pending { actions.append(.order(device: d.id)) }
        let done = current.allSatisfy { states[$0.id] == .healthy || states[$0.id] == .failed }
        guard done else { return actions }
        if wave + 1 < waveCount {
            actions.append(.advance(toWave: wave + 1))
            for d in devices where d.wave == wave + 1 && states[d.id] == .pending {
                actions.append(.order(device: d.id))
            }
        } else {
            actions.append(.complete)
        }
        return actions
    }
}
