import Foundation
import Testing
import WardenTestSupport

extension CloudStackSuite {
    /// Failure at scale with `wardenctl fleet-sim` (wardend's own controller and sync code, many boards in one process):
    /// the broker restarted 100 times while 100 boards make decisions, and PostgreSQL restarted under that load. Every
    /// board comes back within its back-off bound and the database holds every record exactly once.
    @Suite(.serialized) struct FleetFailureTests {
        static let boards = 100
        static let restarts = Int(ProcessInfo.processInfo.environment["WARDEN_FLEET_RESTARTS"] ?? "") ?? 100

        struct Summary: Decodable {
            var boards: Int
            var events: Int64
            var acknowledged: Int64
            var unacknowledged: Int64
            var reconnects: Int
            var reconnectMaxMs: Double?
            var perBoard: [String: [Int64]]
        }

        @Test func aHundredBoardsThroughAHundredBrokerRestartsAndADatabaseRestartLoseNothing() async throws {
            let stack = try await CloudStack.start()
            defer { stack.stop() }
            try await stack.startConsumer()
            try stack.cloudOK([
                "fleet-add", "--org", CloudStack.org, "--site", "hq", "--prefix", "f", "--count", "\(Self.boards)",
            ])
            let summaryPath = stack.dir.appendingPathComponent("fleet-summary.json").path
            let fleet = try ServerProcess(
                executable: CloudStack.bin("wardenctl"),
                arguments: [
                    "fleet-sim", "--org", CloudStack.org, "--broker", "127.0.0.1:\(stack.broker.port)", "--count",
                    "\(Self.boards)", "--prefix", "f", "--dir", stack.dir.appendingPathComponent("fleet").path,
                    "--authority-key",
                    "\(CloudStack.kid)=\(stack.dir.appendingPathComponent("authority.pem.pub").path)",
                    "--rate", "2", "--reconnect", "1-1", "--ack-timeout-ms", "2000", "--drain", "120", "--progress",
                    "10",
                    "--summary", summaryPath,
                ],
                directory: stack.dir,
                logName: "fleet.log"
            )
            func connected(since offset: Int) -> Set<String> {
                let log = stack.broker.log
                let tail = log.utf8.count > offset ? String(log.utf8.dropFirst(offset))! : ""
                var ids = Set<String>()
                for line in tail.split(separator: "\n") where line.contains("New client connected") {
                    if let r = line.range(of: " as f-") { ids.insert(String(line[r.upperBound...].prefix(5))) }
                }
                return ids
            }
            try await waitFor("all \(Self.boards) boards connected", timeout: .seconds(60)) {
                guard fleet.isRunning else { throw CloudStack.Failure(description: "fleet-sim exited:\n\(fleet.log)") }
                return connected(since: 0).count == Self.boards
            }
            // Each board's first reconnect comes 1 s after the loss (--reconnect 1-1; libmosquitto doubles it when an
            // attempt fails): with the broker back in well under a second, every board is back within 1 s plus
            // connection time. 10 s leaves room for a loaded 2-core machine; the worst round is printed.
            var worst: Duration = .zero
            for round in 0..<Self.restarts {
                let offset = stack.broker.log.utf8.count
                try await stack.broker.restart()
                let restarted = ContinuousClock.now
                try await waitFor("round \(round): all boards back", timeout: .seconds(10), every: .milliseconds(20)) {
                    connected(since: offset).count == Self.boards
                }
                worst = max(worst, ContinuousClock.now - restarted)
                if round == Self.restarts / 2 {
                    // PostgreSQL restarted under load: batches in flight fail, nothing is acknowledged for them, the
                    // boards re-send after their acknowledgement timeout and the consumer's pool reconnects.
                    try stack.pg.restart()
                }
            }
            print(
                "\(Self.restarts) broker restarts with \(Self.boards) boards: the slowest round had all back after \(worst)"
            )

            fleet.stop(keepDirectory: true, grace: .seconds(150))  // SIGTERM: stop deciding, drain, summary
            try? (stack.consumer("1")?.log ?? "").write(
                toFile: "/tmp/warden-fleet-consumer.log",
                atomically: true,
                encoding: .utf8
            )
            let data = try Data(contentsOf: URL(fileURLWithPath: summaryPath))
            let summary = try JSONDecoder().decode(Summary.self, from: data)
            #expect(summary.boards == Self.boards)
            #expect(
                summary.unacknowledged == 0,
                "every record acknowledged after the cloud's commit:\n\(fleet.log.suffix(3000))\n\(stack.consumer("1")?.log.suffix(5000) ?? "")"
            )
            #expect(summary.reconnects >= Self.boards * Self.restarts, "each board lost the broker in every round")
            #expect((summary.reconnectMaxMs ?? .infinity) < 10_000, "each reconnect within its back-off bound")

            // Counted from the database: per board, exactly the records it journaled, each once.
            let rows = stack.pg.psql(
                """
                SELECT device_id, count(*), count(DISTINCT seq), max(seq) FROM audit_events
                WHERE device_id LIKE 'f-%' GROUP BY device_id ORDER BY device_id
                """
            ).1.split(separator: "\n")
            var stored: [String: (Int64, Int64, Int64)] = [:]
            for line in rows {
                let p = line.split(separator: "|").map(String.init)
                guard p.count == 4, let c = Int64(p[1]), let d = Int64(p[2]), let m = Int64(p[3]) else { continue }
                stored[p[0]] = (c, d, m)
            }
            var lost: Int64 = 0
            var duplicated: Int64 = 0
            for (device, seqs) in summary.perBoard {
                let acked = seqs[1]
                let (count, distinct, maxSeq) = stored[device] ?? (0, 0, 0)
                lost += max(0, acked - distinct)
                duplicated += count - distinct
                #expect(maxSeq == acked, "\(device): the database ends where the board's acknowledgement does")
            }
            print(
                "fleet: \(summary.events) events from \(summary.boards) boards, \(lost) lost, \(duplicated) duplicated"
            )
            #expect(lost == 0)
            #expect(duplicated == 0)
            #expect(
                summary.events > Int64(Self.boards * 100),
                "the boards kept deciding and journaling throughout:\n\(fleet.log)"
            )
        }
    }
}
