import Foundation
import ServiceLifecycle
import Synchronization
import WardenController
import WardenCore
import WardenStore
import WardenWire

/// The fleet's clock: decisions at the set rate across the boards, a progress line, the access-list versions each
/// board applies (for propagation timing), and at the end a drain until the cloud has acknowledged every record.
final class FleetDriver: Service, Sendable {
    let options: FleetOptions
    let boards: [FleetBoard]
    let credential: Credential?
    let progress: @Sendable (String) -> Void
    let started = ContinuousClock.now
    private let decisions = Atomic<Int>(0)
    private let final = Mutex<FleetSummary?>(nil)

    init(
        options: FleetOptions,
        boards: [FleetBoard],
        credential: Credential?,
        progress: @escaping @Sendable (String) -> Void
    ) {
        self.options = options
        self.boards = boards
        self.credential = credential
        self.progress = progress
    }

    func run() async throws {
        let applied = try appliedLogTasks()
        defer { for t in applied { t.cancel() } }
        let stop = ContinuousClock.now + (options.duration ?? .seconds(365 * 86_400))
        var lastProgress = await cancelWhenGracefulShutdown { await self.decide(until: stop) }
        // Drain: the cloud acknowledges what is journaled (also on SIGINT, bounded by --drain).
        let drainEnd = ContinuousClock.now + options.drain
        for b in boards { await b.journal.flush() }
        while ContinuousClock.now < drainEnd {
            let (events, acked, _) = counts()
            if acked >= events { break }
            if ContinuousClock.now - lastProgress >= options.progressEvery {
                lastProgress = .now
                progress("draining: " + line())
            }
            try? await Task.sleep(for: .milliseconds(200))
        }
        final.withLock { $0 = makeSummary() }
    }

    /// Decisions spread round-robin over the boards at the set rate, in 100 ms steps; returns when it last printed.
    private func decide(until stop: ContinuousClock.Instant) async -> ContinuousClock.Instant {
        var lastProgress = ContinuousClock.now
        var budget = 0.0
        var cursor = 0
        while !Task.isCancelled, ContinuousClock.now < stop {
            budget += options.rate * Double(boards.count) * 0.1
            while budget >= 1 {
                await boards[cursor].decide(credential)
                decisions.add(1, ordering: .relaxed)
                cursor = (cursor + 1) % boards.count
                budget -= 1
            }
            if ContinuousClock.now - lastProgress >= options.progressEvery {
                lastProgress = .now
                progress(line())
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return lastProgress
    }

    /// The summary taken at the end of the drain (before the boards' stop records), or now.
    func summary() -> FleetSummary { final.withLock { $0 } ?? makeSummary() }

    private func counts() -> (events: Int64, acked: Int64, perBoard: [String: [Int64]]) {
        var events: Int64 = 0
        var acked: Int64 = 0
        var per: [String: [Int64]] = [:]
        for b in boards {
            let last = b.journal.durableSeq
            let ack = (try? b.journal.acknowledgedSeq()) ?? 0
            events += last
            acked += ack
            per[b.id] = [last, ack]
        }
        return (events, acked, per)
    }

    private func line() -> String {
        let (events, acked, _) = counts()
        let links = boards.map { $0.link.snapshot }
        let elapsed = Double((ContinuousClock.now - started).components.seconds)
        return "fleet-sim \(Int(elapsed)) s: \(links.filter(\.connected).count)/\(boards.count) connected, "
            + "\(decisions.load(ordering: .relaxed)) decisions, \(events) events, \(acked) acknowledged, "
            + "\(links.reduce(0) { $0 + $1.reconnects.count }) reconnects"
    }

    private func makeSummary() -> FleetSummary {
        let (events, acked, per) = counts()
        let links = boards.map { $0.link.snapshot }
        let millis = { (d: Duration) in Double(d.components.attoseconds) / 1e15 + Double(d.components.seconds) * 1000 }
        let reconnects = links.flatMap(\.reconnects).map(millis).sorted()
        let waits = links.flatMap(\.ackWaits).map(millis).sorted()
        let firsts = links.compactMap(\.connectedOnce)
        let allConnected = firsts.count == boards.count ? firsts.max().map { started.duration(to: $0) } : nil
        return FleetSummary(
            boards: boards.count,
            connected: links.filter(\.connected).count,
            allConnectedAfterS: allConnected.map {
                Double($0.components.seconds) + Double($0.components.attoseconds) / 1e18
            },
            decisions: decisions.load(ordering: .relaxed),
            events: events,
            acknowledged: acked,
            unacknowledged: events - acked,
            reconnects: reconnects.count,
            reconnectP50Ms: FleetSummary.percentile(reconnects, 0.5),
            reconnectP99Ms: FleetSummary.percentile(reconnects, 0.99),
            reconnectMaxMs: reconnects.last,
            acknowledgedBatches: waits.count,
            ackP50Ms: FleetSummary.percentile(waits, 0.5),
            ackP99Ms: FleetSummary.percentile(waits, 0.99),
            ackMaxMs: waits.last,
            perBoard: per,
            rssMB: Self.residentMB()
        )
    }

    /// One watcher per board: each access-list version it applies, with the wall-clock time, as a JSON line.
    private func appliedLogTasks() throws -> [Task<Void, Never>] {
        guard let path = options.appliedLog else { return [] }
        guard FileManager.default.createFile(atPath: path, contents: nil),
            let handle = FileHandle(forWritingAtPath: path)
        else {
            throw FleetError("cannot write the applied-version log \(path)")
        }
        let out = FleetLog(handle)
        return boards.map { b in
            Task {
                for await r in await b.controller.watch()
                where r.event.kind == .config && r.event.reason == "access_list" {
                    let t = Int64(Date().timeIntervalSince1970 * 1000)
                    let ver = r.event.detail?.dropFirst().prefix { $0.isNumber } ?? ""
                    out.write("{\"dev\":\"\(b.id)\",\"ver\":\(ver),\"t_ms\":\(t)}\n")
                }
            }
        }
    }

    static func residentMB() -> Double {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
            let kb = Double(line.split(separator: " ").dropFirst().first ?? "")
        else { return 0 }
        return kb / 1024
    }
}
