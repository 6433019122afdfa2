import ArgumentParser
import Foundation
import WardenController
import WardenSync

/// `wardend`: the door controller daemon.
public struct WardendCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "wardend",
        abstract: "Warden door controller: drives the lock relay, decides offline, keeps the audit journal.",
        discussion:
            "Validate before a restart with `wardend --config FILE --check` or `wardend --board PROFILE.yaml --check`."
    )

    @Option(help: "Config file.") var config: String?
    @Option(help: "Board profile to check (with --check), or to use instead of the config's `board`.") var board:
        String?
    @Flag(help: "Validate the config and/or board profile and exit: 0 if valid, 1 with the reason.") var check = false

    public init() {}

    public func run() async throws {
        if check {
            let (code, message) = WardenDaemon.check(configPath: config, boardPath: board)
            if code == 0 { print(message) } else { FileHandle.standardError.write(Data("wardend: \(message)\n".utf8)) }
            throw ExitCode(code)
        }
        guard let config else { throw ValidationError("--config FILE is required (e.g. /etc/warden/warden.yaml)") }
        throw ExitCode(
            await WardenDaemon.run(configPath: config) { _, settings, controller, journal, logger in
                try BoardSyncService(settings: settings, controller: controller, journal: journal, logger: logger)
            }
        )
    }
}

extension WardendCommand {
    /// Entry point for the thin `wardend` executable.
    public static func start() async {
        SignalWatcher.install()  // before anything else: a SIGTERM from here on ends in an orderly, locked stop
        await main()
    }
}
