import ArgumentParser
import Foundation
import WardenController
import WardenCore
import WardenWire

/// `wardenctl update`: software updates on a board (docs/updates.md). `run` is warden-updater itself (a oneshot
/// service started when wardend hands over an order); `order` hands wardend a signed update command offline;
/// `status` shows the installed version and the last report.
struct UpdateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "update",
        abstract: "Install a signed update order with health checks and rollback; show update state.",
        subcommands: [Run.self, Order.self, Status.self, Recover.self, Reported.self]
    )

    struct Order: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Hand wardend a signed update command (JWS file); wardend checks it as if it came from the cloud."
        )
        @OptionGroup var opts: SocketOption
        @Argument(help: "File holding the signed command.") var file: String

        func run() throws {
            let token = try KeyFiles.readText(file).trimmingCharacters(in: .whitespacesAndNewlines)
            let r = try callDaemon(opts.socket, ControlRequest(cmd: "command_apply", token: token))
            print("wardend accepted the order (\(r.result?.jti ?? "?")); warden-updater takes it from here")
        }
    }

    struct Reported: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Tell wardend the update report changed, so it audits it and publishes it to the cloud at once.",
            discussion: "warden-updater does this itself after each report; for tools that write the report."
        )
        @OptionGroup var opts: SocketOption

        func run() throws {
            let r = try callDaemon(opts.socket, ControlRequest(cmd: "update_reported"))
            guard let report = r.status?.update else {
                print("wardend read no update report")
                return
            }
            print("wardend read the report: \(report.target) \(report.status.rawValue)")
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The installed version and the last update report.")
        @Option(help: "wardend's config.") var config = "/etc/warden/warden.yaml"
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let files = try WardenConfig.load(path: config).software
            let report = files.report()
            if json {
                print(String(decoding: WireJSON.encode(report), as: UTF8.self))
                return
            }
            print("installed \(Updater.dpkgVersion() ?? files.installedVersion() ?? "unknown")")
            if let r = report {
                print("last order: \(r.target) \(r.status.rawValue)\(r.detail.map { ": \($0)" } ?? "")")
            } else {
                print("no update order yet")
            }
            if files.order() != nil { print("an order is pending") }
        }
    }

    struct Recover: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "After a power cut during an install: dpkg's recovery, then warden-board made whole from the cache."
        )
        @Option(help: "wardend's config.") var config = "/etc/warden/warden.yaml"

        func run() throws {
            if let out = Updater.run("/usr/bin/dpkg", ["--configure", "-a"]), out.status != 0 {
                print("warden-recover: dpkg --configure -a exited \(out.status): \(out.output)")
            }
            if let v = Updater.dpkgVersion() {
                print("warden-recover: \(Updater.package) \(v) is installed and configured")
                return
            }
            // Half-unpacked: put back the version that ran before (known good), else the one being installed.
            let files = (try? WardenConfig.load(path: config))?.software
            let report = files?.report()
            let recorded = (try? String(contentsOfFile: "/var/lib/warden-board/previous-version", encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines)
            let candidates = [report?.previous, recorded, report?.target].compactMap { $0 }
            for version in candidates {
                guard let deb = Updater.cachedPackage(version) else { continue }
                if let out = Updater.run("/usr/bin/dpkg", ["-i", "--force-confold", deb]), out.status == 0,
                    Updater.dpkgVersion() == version
                {
                    print("warden-recover: reinstalled \(Updater.package) \(version) from \(deb)")
                    if var r = report, let files {
                        r.status = .failed
                        r.version = version
                        r.detail = "the install of \(r.target) was interrupted (power cut?); \(version) was reinstalled"
                        r.at = Int64(Date().timeIntervalSince1970)
                        try? files.writeReport(r)
                    }
                    return
                }
            }
            throw CLIError(
                "\(Updater.package) is not whole and no cached package of \(candidates.joined(separator: ", ")) installs: apt-get install --reinstall \(Updater.package)"
            )
        }
    }

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "warden-updater: verify the pending order, wait for an idle door, install, check, roll back."
        )
        @Option(help: "wardend's config.") var config = "/etc/warden/warden.yaml"
        @Option(help: "Maintenance window, site-local HH:MM-HH:MM (default: any time).") var window: String?
        @Option(help: "Seconds wardend has to come back healthy on the new version.") var healthTimeout = 120
        @Option(help: "Seconds it must then stay healthy.") var settle = 10
        @Option(help: "Seconds between looks at the door while waiting for it to be idle.") var poll = 5

        func validate() throws {
            guard (5...3600).contains(healthTimeout) else { throw ValidationError("--health-timeout must be 5...3600") }
            guard (0...600).contains(settle) else { throw ValidationError("--settle must be 0...600") }
            guard (1...600).contains(poll) else { throw ValidationError("--poll must be 1...600") }
            if let window { _ = try UpdateGate.Window(parsing: window) }
        }

        func run() async throws {
            let cfg = try WardenConfig.load(path: config)
            let gate = UpdateGate(
                window: try window.map(UpdateGate.Window.init(parsing:)),
                timeZone: cfg.calendar.timeZone
            )
            var updater = Updater(
                config: cfg,
                gate: gate,
                healthTimeout: .seconds(healthTimeout),
                settle: .seconds(settle),
                poll: .seconds(poll)
            )
            let ok = await updater.run()
            if !ok { throw ExitCode(1) }
        }
    }
}
