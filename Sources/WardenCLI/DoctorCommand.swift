import ArgumentParser
import BlueZ
import Foundation
import Mosquitto
import SwiftASN1
import WardenController
import WardenCore
import WardenProtocol
import WardenStore
import WardenWire
import X509

/// `wardenctl doctor`: the board proves its own wiring and links, one PASS/FAIL line per check with a fix hint,
/// and an exit code for scripts: 0 nothing failed, 1 a check failed, 2 the doctor could not run (the config).
/// With wardend running, the GPIO checks go through it (it holds the lines); stopped, the doctor drives them itself.
struct DoctorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check this board: GPIO lines, relay, inputs, Bluetooth LE, broker, clock, store, disk."
    )
    @Option(help: "wardend's config.") var config = "/etc/warden/warden.yaml"
    @Flag(help: "Do not pulse the relay (the door would unlock for a moment).") var noPulse = false

    func run() async throws {
        let cfg: WardenConfig
        do { cfg = try WardenConfig.load(path: config) } catch {
            print(
                DoctorCheck.fail("config", "\(error)", fix: "fix \(config) (wardend --config \(config) --check)").line
            )
            throw ExitCode(2)
        }
        var checks = [DoctorCheck.pass("config", "\(config): door \(cfg.doorID), lock \(cfg.lockID)")]
        checks += await Self.hardware(cfg, pulse: !noPulse)
        checks.append(Self.bluetooth(cfg))
        checks.append(await Self.broker(cfg))
        checks.append(Self.clock(cfg, now: Date()))
        checks.append(Self.store(cfg))
        checks.append(Self.disk(cfg))
        for c in checks { print(c.line) }
        let failed = checks.filter { $0.status == .fail }.map(\.name)
        print(failed.isEmpty ? "doctor: all checks passed" : "doctor: FAILED: \(failed.joined(separator: ", "))")
        if !failed.isEmpty { throw ExitCode(1) }
    }

    // MARK: GPIO

    static func hardware(_ cfg: WardenConfig, pulse: Bool) async -> [DoctorCheck] {
        let profile: BoardProfile
        do { profile = try BoardProfile.load(path: cfg.boardPath) } catch {
            return [.fail("gpio", "board profile: \(error)", fix: "check `board:` in the config")]
        }
        if profile.isSimulated {
            return [.skip("gpio", "simulated board (\(profile.name)): no GPIO to check")]
        }
        if let status = try? ControlClient(path: cfg.controlSocket).call(ControlRequest(cmd: "status")).status {
            return await viaDaemon(cfg, profile: profile, status: status, pulse: pulse)
        }
        let io: LibgpiodDoorIO
        do { io = try LibgpiodDoorIO(profile: profile, consumer: "wardenctl-doctor") } catch {
            return [
                .fail(
                    "gpio",
                    "\(error)",
                    fix:
                        "check the chip and line numbers in \(profile.file) against the wiring (gpioinfo lists them), and that this user may open /dev/gpiochip* (provisioning/udev/60-warden-gpio.rules)"
                )
            ]
        }
        defer { io.close() }
        var out = [
            DoctorCheck.pass(
                "gpio",
                "chip \(profile.chip): relay line \(profile.relay.line), inputs \(profile.inputs.map { "\($0.key.rawValue) \($0.value.line)" }.sorted().joined(separator: ", "))"
            )
        ]
        // The relay level that unlocks: energized opens a strike; a maglock holds while energized.
        let unlocked = profile.relayKind == .strike
        if pulse {
            do {
                try io.setRelay(energized: unlocked)
                let drove = try io.relayEnergized()
                try await Task.sleep(for: .milliseconds(300))
                try io.setRelay(energized: !unlocked)
                let back = try io.relayEnergized()
                out.append(
                    drove == unlocked && back == !unlocked
                        ? .pass(
                            "relay",
                            "pulsed 300 ms (\(profile.relayKind.rawValue)); the line read back unlocked, then locked"
                        )
                        : .fail(
                            "relay",
                            "the line read back \(drove ? "energized" : "released") then \(back ? "energized" : "released")",
                            fix: "another process drives line \(profile.relay.line); check gpioinfo"
                        )
                )
            } catch {
                try? io.setRelay(energized: !unlocked)
                out.append(.fail("relay", "\(error)", fix: "check line \(profile.relay.line) in \(profile.file)"))
            }
        } else {
            out.append(.skip("relay", "not pulsed (--no-pulse)"))
        }
        do {
            let levels = try io.readInputs()
            out.append(
                io.inputsAlive
                    ? .pass(
                        "inputs",
                        "watching "
                            + levels.map { "\($0.key.rawValue)=\($0.value ? "active" : "inactive")" }.sorted().joined(
                                separator: ", "
                            )
                    )
                    : .fail("inputs", "the edge watch stopped", fix: "check the input lines in \(profile.file)")
            )
        } catch {
            out.append(.fail("inputs", "\(error)", fix: "check the input lines in \(profile.file)"))
        }
        return out
    }

    /// wardend holds the lines: it proved them at start; the pulse goes through its control socket.
    static func viaDaemon(
        _ cfg: WardenConfig,
        profile: BoardProfile,
        status: ControllerStatus,
        pulse: Bool
    ) async
        -> [DoctorCheck]
    {
        var out = [DoctorCheck.pass("gpio", "chip \(profile.chip) held by the running wardend (board \(status.board))")]
        if pulse {
            do {
                _ = try callDaemon(cfg.controlSocket, ControlRequest(cmd: "pulse", seconds: 1))
                var opened = false
                for _ in 0..<20 {
                    if let s = try ControlClient(path: cfg.controlSocket).call(ControlRequest(cmd: "status")).status,
                        s.relayUnlocked
                    {
                        opened = true
                        break
                    }
                    try await Task.sleep(for: .milliseconds(50))
                }
                out.append(
                    opened
                        ? .pass("relay", "pulsed 1 s through wardend; it reports the relay unlocked")
                        : .fail("relay", "wardend did not report the relay unlocked", fix: "check `wardenctl status`")
                )
            } catch { out.append(.fail("relay", "\(error)", fix: "check `wardenctl status` and wardend's log")) }
        } else {
            out.append(.skip("relay", "not pulsed (--no-pulse)"))
        }
        out.append(
            .pass(
                "inputs",
                "door \(status.doorClosed ? "closed" : "open"), rex \(status.rexActive ? "pressed" : "released"), tamper \(status.tamperActive ? "tripped" : "ok")"
            )
        )
        return out
    }

    // MARK: Bluetooth

    static func bluetooth(_ cfg: WardenConfig) -> DoctorCheck {
        guard cfg.presentation.ble else { return .skip("bluetooth", "BLE presentation is off in the config") }
        guard BluetoothAdapter.isSupportedByKernel else {
            return .fail("bluetooth", "the kernel offers no Bluetooth sockets", fix: "load the bluetooth module")
        }
        do {
            let a = try BluetoothAdapter(named: cfg.presentation.bleAdapter)
            guard a.supportsLE else {
                return .fail("bluetooth", "\(a.name) has no Low Energy support", fix: "use a Bluetooth 4.0+ adapter")
            }
            return .pass(
                "bluetooth",
                "\(a.name) \(a.address) with LE\(a.isPowered ? ", powered" : " (powered off: wardend powers it on)")"
            )
        } catch {
            return .fail(
                "bluetooth",
                "no adapter\(cfg.presentation.bleAdapter.map { " '\($0)'" } ?? ""): \(error)",
                fix: "check that the adapter is present and not blocked (rfkill list; btmgmt info)"
            )
        }
    }

    // MARK: broker

    static func broker(_ cfg: WardenConfig) async -> DoctorCheck {
        guard let sync = cfg.sync else { return .skip("broker", "no sync section: the board runs stand-alone") }
        if let certFile = sync.certFile,
            let cert = try? Certificate(pemEncoded: String(contentsOfFile: certFile, encoding: .utf8)),
            cert.notValidAfter < Date()
        {
            return .fail("broker", "the device certificate expired at \(cert.notValidAfter)", fix: "provision again")
        }
        do {
            // Its own client id: the board's would take over wardend's session.
            let client = try MQTTClient(clientID: "\(cfg.lockID)-doctor", cleanStart: true)
            if let ca = sync.caFile {
                try client.configureTLS(caFile: ca, certFile: sync.certFile, keyFile: sync.keyFile)
            }
            if let user = sync.username { try client.setCredentials(username: user, password: try sync.password()) }
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await client.connect(host: sync.host, port: sync.port, keepalive: .seconds(10)) }
                group.addTask {
                    try await Task.sleep(for: .seconds(10))
                    throw CLIError("no answer within 10 s")
                }
                try await group.next()
                group.cancelAll()
            }
            client.disconnect()
            return .pass(
                "broker",
                "\(sync.host):\(sync.port) accepted \(sync.certFile == nil ? "the password identity" : "the device certificate")"
            )
        } catch {
            return .fail(
                "broker",
                "\(sync.host):\(sync.port): \(error)",
                fix:
                    "check the network and sync.broker; a refused certificate is revoked or from another CA: provision again"
            )
        }
    }

    // MARK: clock, store, disk

    static func clock(_ cfg: WardenConfig, now: Date) -> DoctorCheck {
        var floors: [(String, Date)] = [("this wardenctl's build", Date(timeIntervalSince1970: 1_764_547_200))]
        if let c = cfg.identity?.certificate {
            floors.append(("the lock certificate", Date(timeIntervalSince1970: TimeInterval(c.notBefore))))
        }
        if let f = cfg.sync?.certFile,
            let cert = try? Certificate(pemEncoded: String(contentsOfFile: f, encoding: .utf8))
        {
            floors.append(("the device certificate", cert.notValidBefore))
        }
        if let (what, date) = floors.first(where: { now < $0.1 }) {
            return .fail(
                "clock",
                "\(now) is before \(what) (\(date))",
                fix: "set the clock: timedatectl set-ntp true (or date -s); TLS and phones refuse a board in the past"
            )
        }
        guard synchronized() else {
            return .warn(
                "clock",
                "\(now) is plausible but not synchronized",
                fix: "enable NTP (timedatectl set-ntp true); wardend also takes signed time from the cloud"
            )
        }
        return .pass("clock", "\(now), synchronized")
    }

    /// systemd-timesyncd's flag file, else timedatectl's view of the kernel's NTP state.
    static func synchronized() -> Bool {
        if FileManager.default.fileExists(atPath: "/run/systemd/timesync/synchronized") { return true }
        let out = try? SystemCommand.run(
            "/usr/bin/timedatectl",
            ["show", "-p", "NTPSynchronized", "--value"],
            what: "reading the clock's state"
        )
        return out?.trimmingCharacters(in: .whitespacesAndNewlines) == "yes"
    }

    static func store(_ cfg: WardenConfig) -> DoctorCheck {
        guard FileManager.default.fileExists(atPath: cfg.databasePath) else {
            return .warn("store", "no database yet at \(cfg.databasePath)", fix: "start wardend once (it creates it)")
        }
        do {
            let db = try WardenDatabase(path: cfg.databasePath)
            let integrity = try db.quickCheck()
            guard integrity == "ok" else {
                return .fail(
                    "store",
                    "quick_check: \(integrity)",
                    fix: "restore the state folder from a backup, or remove it (the cloud re-sends the access list)"
                )
            }
            let journal = try AuditJournal(database: db, retention: cfg.retention)
            let report = try journal.verifyTail(last: 1000)
            return .pass(
                "store",
                "\(cfg.databasePath): quick_check ok; the journal's last \(report.count) record(s) chain up to seq \(report.lastSeq ?? 0)"
            )
        } catch {
            return .fail("store", "\(error)", fix: "check \(cfg.stateDir) exists and is readable by this user")
        }
    }

    static func disk(_ cfg: WardenConfig) -> DoctorCheck {
        // Before wardend's first start the state folder may not exist yet: the file system it will be made on.
        var dir = cfg.stateDir
        while !FileManager.default.fileExists(atPath: dir), dir != "/", !dir.isEmpty {
            dir = (dir as NSString).deletingLastPathComponent
        }
        var s = statvfs()
        guard statvfs(dir, &s) == 0 else {
            return .fail("disk", "cannot stat \(dir): \(String(cString: strerror(errno)))", fix: "check the state_dir")
        }
        let free = Double(s.f_bavail) * Double(s.f_frsize)
        let total = Double(s.f_blocks) * Double(s.f_frsize)
        let mb = Int(free / 1_048_576)
        guard free >= 50 * 1_048_576, total > 0, free / total >= 0.05 else {
            return .fail("disk", "\(mb) MB free on \(dir)", fix: "free space: the journal needs room to write")
        }
        return .pass("disk", "\(mb) MB free on \(dir) (\(Int(100 * free / total)) %)")
    }
}
