import ArgumentParser
import Foundation

/// `wardenctl`: one CLI for installers, facility managers and developers.
public struct WardenCtl: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "wardenctl",
        abstract: "Warden control: door status and relay checks, access lists, audit, phone and authority tools.",
        subcommands: [
            StatusCommand.self, PulseCommand.self, WatchCommand.self, LockdownCommand.self, PassageCommand.self,
            RelaySafeCommand.self, TimeCommand.self, AccessCommand.self, AuditCommand.self, PhoneCommand.self,
            SimCommand.self, FleetSimCommand.self, CloudCommand.self, ProvisionCommand.self, DeprovisionCommand.self,
            DoctorCommand.self, SupportBundleCommand.self, UpdateCommand.self,
            DevCommand.self,
        ]
    )
    public init() {}
}

struct SocketOption: ParsableArguments {
    @Option(help: "wardend's control socket.") var socket = "/run/warden/control.sock"
}

extension WardenCtl {
    /// Entry point for the thin `wardenctl` executable.
    public static func start() async { await main() }
}
