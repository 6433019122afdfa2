import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import UnixSignals
import WardenController
import WardenCore
import WardenStore
import WardenSync

/// Many simulated boards in one process, each with its own MQTT connection and client identity, SQLite journal and
/// access list, running wardend's own controller and sync code (not a second implementation of the contract): the
/// load for the fleet benchmarks and the failure-at-scale tests.
public enum FleetSimulator {
    /// Sets the fleet up, runs it for `options.duration` (or until SIGINT/SIGTERM), waits for the audit to drain and
    /// returns what happened. `progress` gets a line every `options.progressEvery`.
    public static func run(
        _ options: FleetOptions,
        logger: Logger,
        progress: @escaping @Sendable (String) -> Void
    ) async throws(FleetError) -> FleetSummary {
        guard options.count > 0 else { throw FleetError("--count must be at least 1") }
        guard options.rate >= 0, options.rate <= 1000 else { throw FleetError("--rate must be 0...1000 decisions/s") }
        try raiseFileLimit(boards: options.count)
        let boards: [FleetBoard]
        let credential: Credential?
        do {
            try FileManager.default.createDirectory(atPath: options.directory, withIntermediateDirectories: true)
            let profilePath = URL(fileURLWithPath: options.directory).appendingPathComponent("board.yaml").path
            try FleetBoard.profile.write(toFile: profilePath, atomically: true, encoding: .utf8)
            boards = try await setUp(options, profilePath: profilePath, logger: logger, progress: progress)
            credential = try options.credentialToken.map {
                try CredentialVerifier(authority: boards[0].config.authority).verify($0)
            }
        } catch let error as FleetError {
            throw error
        } catch {
            throw FleetError("cannot set up the fleet in \(options.directory): \(error)")
        }

        let flushers = boards.map { b in Task { await b.journal.run() } }
        let updater = options.updates.map { u in
            Task { await FleetUpdater(options: u, boards: boards, progress: progress).run() }
        }
        for b in boards {
            await b.controller.run()
            await b.controller.setReady()
        }
        if options.backlog > 0 {
            progress("making \(options.backlog) offline decisions on each board")
            for b in boards {
                for _ in 0..<options.backlog { await b.decide(credential) }
            }
            for b in boards { await b.journal.flush() }
        }

        let driver = FleetDriver(options: options, boards: boards, credential: credential, progress: progress)
        // The boards as one service (their shutdown is concurrent, not one by one), the driver after them so it stops
        // first: decisions end and the audit drains while the boards are still connected.
        let services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: FleetBoards(boards: boards)),
            .init(service: driver, successTerminationBehavior: .gracefullyShutdownGroup),
        ]
        let group = ServiceGroup(
            configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        )
        do { try await group.run() } catch {
            logger.error("fleet stopped on an error", metadata: ["error": "\(error)"])
        }

        let summary = driver.summary()
        updater?.cancel()
        await updater?.value
        for b in boards { await b.controller.shutdown(reason: "fleet-sim ended") }
        for b in boards { b.journal.finish() }
        for f in flushers { await f.value }
        return summary
    }

    private static func setUp(
        _ options: FleetOptions,
        profilePath: String,
        logger: Logger,
        progress: @escaping @Sendable (String) -> Void
    ) async throws -> [FleetBoard] {
        let indices = Array(options.first..<(options.first + options.count))
        var out = [FleetBoard?](repeating: nil, count: indices.count)
        let started = ContinuousClock.now
        try await withThrowingTaskGroup(of: (Int, FleetBoard).self) { group in
            var next = 0
            func add() {
                let i = next
                next += 1
                group.addTask {
                    (i, try FleetBoard(index: indices[i], options: options, profilePath: profilePath, logger: logger))
                }
            }
            while next < min(options.setupParallelism, indices.count) { add() }
            var done = 0
            while let (i, board) = try await group.next() {
                out[i] = board
                done += 1
                if done % 1000 == 0 { progress("set up \(done)/\(indices.count) boards") }
                if next < indices.count { add() }
            }
        }
        let took = started.duration(to: .now)
        progress(
            "set up \(indices.count) boards in "
                + String(format: "%.2f s", Double(took.components.seconds) + Double(took.components.attoseconds) / 1e18)
        )
        return out.map { $0! }
    }

    /// Each board holds its socket, its database, its WAL and shared-memory files: about five descriptors.
    private static func raiseFileLimit(boards: Int) throws(FleetError) {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        let need = rlim_t(boards * 5 + 256)
        if limit.rlim_cur < need {
            limit.rlim_cur = min(limit.rlim_max, need)
            setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        guard limit.rlim_cur >= need else {
            throw FleetError(
                "\(boards) boards need about \(need) open files and the hard limit is \(limit.rlim_max): raise it "
                    + "(as root, `ulimit -Hn \(need)` in the shell that starts the simulator; under systemd, "
                    + "LimitNOFILE=\(need)) or run fewer boards per process (--first/--count)"
            )
        }
    }
}

/// Every board's sync service, run side by side; a graceful shutdown reaches all of them at once.
struct FleetBoards: Service {
    let boards: [FleetBoard]

    func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            for b in boards { group.addTask { try? await b.sync.run() } }
        }
    }
}
