import ArgumentParser
import Foundation
import Logging
import WardenFleet
import WardenWire

/// `wardenctl fleet-sim`: many simulated boards in one process against a real broker and warden-cloud.
struct FleetSimCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleet-sim",
        abstract: "Run many simulated boards (wardend's controller and sync code) against a broker.",
        discussion: """
            Device ids are PREFIX-00000, PREFIX-00001, ... on doors door-PREFIX-00000, ...: register them with \
            `warden-cloud fleet-add`. Each board keeps its config, SQLite store and journal in --dir/<device id> \
            (reused by the next run). Prints a progress line while it runs and a summary at the end; exits 1 if \
            any board's audit is still unacknowledged after --drain.
            """
    )

    @Option(help: "The organisation the boards belong to.") var org: String
    @Option(help: "The broker, HOST:PORT.") var broker: String
    @Option(help: "How many boards.") var count: Int
    @Option(help: "The first board's index (to split one fleet over several processes).") var first = 0
    @Option(help: "Device id prefix.") var prefix = "sim"
    @Option(help: "Folder for the boards' state.") var dir: String
    @Option(help: "Authority public key, KID=FILE (repeatable).") var authorityKey: [String]
    @Option(help: "A credential token (issued for the door group 'fleet') the boards decide on; else REX presses.")
    var credential: String?
    @Option(help: "Decisions per second per board.") var rate: Double = 0
    @Option(help: "Decisions each board makes offline before it connects.") var backlog = 0
    @Option(help: "Seconds to run (default: until SIGINT/SIGTERM).") var duration: Double?
    @Option(help: "Seconds to wait at the end for the cloud to acknowledge every record.") var drain: Double = 60
    @Option(help: "First reconnect delay range in whole seconds, MIN-MAX (wardend's is 1-3).") var reconnect = "1-3"
    @Option(help: "Milliseconds a board waits for the cloud's acknowledgement before re-sending (wardend: 30000).")
    var ackTimeoutMs: Int?
    @Option(help: "Broker password file for every board (user name: its device id).") var passwordFile: String?
    @Option(help: "Write each applied access-list version as a JSON line here.") var appliedLog: String?
    @Option(help: "Write the summary as JSON here.") var summary: String?
    @Option(help: "Seconds between progress lines.") var progress: Double = 5
    @Option(help: "Simulate warden-updater: the boards start on this version and install what the cloud orders.")
    var simulateUpdatesFrom: String?
    @Option(help: "With --simulate-updates-from: a version that fails its health check and rolls back (repeatable).")
    var failingVersion: [String] = []
    @Option(help: "With --simulate-updates-from: seconds a simulated install takes.") var installSeconds: Double = 1

    func run() async throws {
        let parts = broker.split(separator: ":")
        guard parts.count == 2, let port = Int(parts[1]), (1...65535).contains(port) else {
            throw CLIError("--broker must be HOST:PORT, got '\(broker)'")
        }
        guard (1...FleetOptions.maxBoardsPerProcess).contains(count) else {
            throw CLIError(
                "--count \(count): 1 to \(FleetOptions.maxBoardsPerProcess) boards per process. libmosquitto's network "
                    + "loop uses select(), which cannot watch a descriptor past 1023, and each board holds about 8 "
                    + "(its SQLite files and its connection); run several processes, each with its own --first"
            )
        }
        var keys: [String: String] = [:]
        for k in authorityKey {
            let kv = k.split(separator: "=", maxSplits: 1)
            guard kv.count == 2 else { throw CLIError("--authority-key must be KID=FILE, got '\(k)'") }
            keys[String(kv[0])] = String(kv[1])
        }
        guard !keys.isEmpty else { throw CLIError("--authority-key KID=FILE is required (the org's public key)") }
        let delays = reconnect.split(separator: "-").compactMap { UInt32($0) }
        guard delays.count == 2, delays[0] >= 1, delays[0] <= delays[1] else {
            throw CLIError("--reconnect must be MIN-MAX whole seconds with 1 <= MIN <= MAX, got '\(reconnect)'")
        }
        var options = FleetOptions(
            org: org,
            host: String(parts[0]),
            port: port,
            count: count,
            directory: dir,
            authorityKeys: keys
        )
        options.first = first
        options.prefix = prefix
        if let credential {
            do {
                options.credentialToken = try String(contentsOfFile: credential, encoding: .utf8)
                    .trimmingCharacters(in: .whitespacesAndNewlines)
            } catch { throw CLIError("cannot read the credential file \(credential): \(error.localizedDescription)") }
        }
        options.rate = rate
        options.backlog = backlog
        options.duration = duration.map { .milliseconds(Int64($0 * 1000)) }
        options.drain = .milliseconds(Int64(drain * 1000))
        options.firstReconnectDelay = delays[0]...delays[1]
        options.appliedLog = appliedLog
        options.ackTimeoutMillis = ackTimeoutMs
        options.passwordFile = passwordFile
        options.summaryPath = summary
        options.progressEvery = .milliseconds(Int64(max(0.2, progress) * 1000))
        if let from = simulateUpdatesFrom {
            for v in [from] + failingVersion where !SignedCommand.isDebianVersion(v) {
                throw CLIError("'\(v)' is not a Debian version (digits first, then letters, digits and .+~:-)")
            }
            guard (0...600).contains(installSeconds) else { throw CLIError("--install-seconds must be 0...600") }
            options.updates = FleetUpdater.Options(
                initialVersion: from,
                failing: Set(failingVersion),
                installTime: .milliseconds(Int64(installSeconds * 1000))
            )
        } else if !failingVersion.isEmpty {
            throw CLIError("--failing-version needs --simulate-updates-from VERSION")
        }

        var logger = Logger(label: "fleet-sim") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = .warning
        let result: FleetSummary
        do {
            result = try await FleetSimulator.run(options, logger: logger) { line in
                FileHandle.standardError.write(Data((line + "\n").utf8))
            }
        } catch { throw CLIError("fleet-sim: \(error)") }
        print(result.text)
        if let summary {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            try encoder.encode(result).write(to: URL(fileURLWithPath: summary))
        }
        if result.unacknowledged > 0 { throw ExitCode(1) }
    }
}
