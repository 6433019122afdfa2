import Foundation
import Testing
import WardenCloud
import WardenWire

/// The rollout's decisions, fed values.
@Suite struct RolloutPlannerTests {
    typealias P = RolloutPlanner
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    func report(_ status: UpdateReport.Status, jti: String, version: String, detail: String? = nil) -> UpdateReport {
        UpdateReport(
            target: "2.0.0",
            status: status,
            version: version,
            previous: "1.0.0",
            detail: detail,
            jti: jti,
            at: 0
        )
    }

    @Test func wavesAreCumulativeAndTheLastTakesTheRest() throws {
        let boards = (1...25).map { String(format: "b%02d", $0) }
        let waves = try ["1", "10%", "100%"].map { s throws(CloudError) in try P.WaveSize(parsing: s) }
        let plan = P.assign(devices: boards.reversed(), waves: waves)
        #expect(plan.map(\.count) == [1, 2, 22], "1, then up to 3 (10% of 25, rounded up), then the rest")
        #expect(plan[0] == ["b01"] && Set(plan.flatMap { $0 }) == Set(boards))
        #expect(P.assign(devices: ["a", "b"], waves: [.boards(5), .percent(50)]).map(\.count) == [2, 0])
        #expect(P.assign(devices: ["a", "b", "c"], waves: [.percent(10)]).map(\.count) == [3], "one wave takes all")
        for bad in ["0", "0%", "101%", "-1", "ten", "", "1.5", "100001"] {
            #expect(throws: CloudError.self, "\(bad)") { try P.WaveSize(parsing: bad) }
        }
    }

    @Test func aWaveIsOrderedAdvancesWhenHealthyAndCompletes() {
        var devices = [P.Device(id: "a", wave: 0, state: .pending), P.Device(id: "b", wave: 1, state: .pending)]
        func step(_ wave: Int) -> [P.Action] {
            P.step(
                version: "2.0.0",
                wave: wave,
                waveCount: 2,
                maxFailures: 0,
                devices: devices,
                now: t0,
                orderTimeout: 600
            )
        }
        #expect(step(0) == [.order(device: "a")])
        devices[0] = .init(id: "a", wave: 0, state: .ordered, jti: "j1", orderedAt: t0, version: "1.0.0")
        #expect(step(0) == [], "waiting for a's report")
        devices[0].report = report(.waiting, jti: "j1", version: "1.0.0", detail: "the door is open")
        #expect(step(0) == [])
        devices[0].report = report(.installed, jti: "j1", version: "2.0.0")
        devices[0].version = "2.0.0"
        #expect(
            step(0) == [.mark(device: "a", .healthy, detail: "runs 2.0.0"), .advance(toWave: 1), .order(device: "b")]
        )
        devices[0].state = .healthy
        devices[1] = .init(id: "b", wave: 1, state: .ordered, jti: "j2", orderedAt: t0, version: "2.0.0")
        #expect(step(1) == [.mark(device: "b", .healthy, detail: "runs 2.0.0"), .complete], "already on it: healthy")
    }

    @Test func aFailureBeyondTheThresholdStopsTheRolloutSayingWhy() {
        let failed = P.Device(
            id: "a",
            wave: 0,
            state: .ordered,
            jti: "j1",
            orderedAt: t0,
            version: "1.0.0",
            report: report(
                .rolledBack,
                jti: "j1",
                version: "1.0.0",
                detail: "2.0.0 is not healthy: wardend does not answer"
            )
        )
        let later = P.Device(id: "b", wave: 1, state: .pending)
        let actions = P.step(
            version: "2.0.0",
            wave: 0,
            waveCount: 2,
            maxFailures: 0,
            devices: [failed, later],
            now: t0,
            orderTimeout: 600
        )
        #expect(actions.count == 2)
        guard case .stop(let reason) = actions.last else {
            Issue.record("no stop: \(actions)")
            return
        }
        #expect(reason.contains("wave 1: 1 of 1 boards failed (at most 0 allowed)"))
        #expect(reason.contains("rolled_back: 2.0.0 is not healthy: wardend does not answer (runs 1.0.0)"))
        #expect(!actions.contains(.order(device: "b")), "the next wave is never ordered")
        // With one failure allowed, the wave counts as done and the rollout goes on.
        let tolerant = P.step(
            version: "2.0.0",
            wave: 0,
            waveCount: 2,
            maxFailures: 1,
            devices: [failed, later],
            now: t0,
            orderTimeout: 600
        )
        #expect(tolerant.suffix(2) == [.advance(toWave: 1), .order(device: "b")])
    }

    @Test func aReportForAnotherOrderIsIgnoredAndSilenceTimesOut() {
        var d = P.Device(
            id: "a",
            wave: 0,
            state: .ordered,
            jti: "j-new",
            orderedAt: t0,
            version: "1.0.0",
            report: report(.rolledBack, jti: "j-old", version: "1.0.0")
        )
        #expect(
            P.step(version: "2.0.0", wave: 0, waveCount: 1, maxFailures: 0, devices: [d], now: t0, orderTimeout: 600)
                == []
        )
        let late = P.step(
            version: "2.0.0",
            wave: 0,
            waveCount: 1,
            maxFailures: 0,
            devices: [d],
            now: t0.addingTimeInterval(601),
            orderTimeout: 600
        )
        #expect(late.first == .mark(device: "a", .failed, detail: "no report within 600 s of the order"))
        d.report = nil
        #expect(late.last.map { if case .stop = $0 { true } else { false } } == true)
    }
}
