import Foundation
import WardenController
import WardenWire

/// The fleet's stand-in for warden-updater (docs/updates.md): each board's wardend code verifies the cloud's signed
/// order and hands it over in the order file exactly as on a real board; this takes it from there without apt. A
/// version listed as failing "fails its health check" and the board stays on its version with a `rolled_back`
/// report; any other version is "installed": the version file changes, the report says `installed`, and the board
/// reads both as a restart would. Real installs and rollbacks are tested with real packages in scripts/package-test.
public struct FleetUpdater: Sendable {
    /// What the fleet's simulated installs do.
    public struct Options: Sendable {
        /// The version a board runs before any update (written once, into a board's own version file).
        public var initialVersion: String
        /// Versions that fail their health check on every board.
        public var failing: Set<String>
        /// How long an install takes, from the order to the report.
        public var installTime: Duration

        public init(initialVersion: String, failing: Set<String> = [], installTime: Duration = .seconds(1)) {
            self.initialVersion = initialVersion
            self.failing = failing
            self.installTime = installTime
        }
    }

    let options: Options
    let boards: [FleetBoard]
    let progress: @Sendable (String) -> Void

    /// Polls every board's order file until cancelled.
    func run() async {
        while !Task.isCancelled {
            for board in boards where board.config.software.order() != nil {
                await handle(board)
            }
            try? await Task.sleep(for: .milliseconds(250))
        }
    }

    func handle(_ board: FleetBoard) async {
        let files = board.config.software
        guard let order = files.order() else { return }
        unlink(files.updateOrder)
        guard let command = try? SignedCommand.verified(order.token, authority: board.config.authority),
            command.cmd == .update, let target = command.ver
        else {
            progress("\(board.id): an order that is not a verifiable update; dropped")
            return
        }
        let running = files.installedVersion()
        try? await Task.sleep(for: options.installTime)
        let report: UpdateReport
        if options.failing.contains(target) {
            report = UpdateReport(
                target: target,
                status: .rolledBack,
                version: running,
                previous: running,
                detail: "\(target) is not healthy: simulated failure (fleet-sim --failing-version)",
                jti: command.jti,
                at: Int64(Date().timeIntervalSince1970)
            )
        } else {
            do {
                try "\(target)\n".write(toFile: files.versionFile, atomically: true, encoding: .utf8)
            } catch {
                progress("\(board.id): cannot write \(files.versionFile): \(error)")
                return
            }
            report = UpdateReport(
                target: target,
                status: .installed,
                version: target,
                previous: running,
                detail: "\(target) healthy after the restart (simulated)",
                jti: command.jti,
                at: Int64(Date().timeIntervalSince1970)
            )
        }
        do { try files.writeReport(report) } catch {
            progress("\(board.id): cannot write the update report: \(error)")
            return
        }
        progress("\(board.id): update to \(target): \(report.status.rawValue)")
        await board.controller.softwareRestarted()
    }
}
