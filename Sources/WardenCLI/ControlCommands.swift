import ArgumentParser
import Foundation
import WardenController
import WardenWire

func callDaemon(_ socket: String, _ request: ControlRequest) throws -> ControlResponse {
    let client = try ControlClient(path: socket)
    let r = try client.call(request)
    guard r.ok else { throw CLIError("wardend refused: \(r.error ?? "no reason given")") }
    return r
}

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the door, relay, inputs, modes and alarms."
    )
    @OptionGroup var opts: SocketOption
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let s = try callDaemon(opts.socket, ControlRequest(cmd: "status")).status!
        if json {
            let e = JSONEncoder()
            e.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try e.encode(s), as: UTF8.self))
            return
        }
        print(
            """
            door \(s.door) (lock \(s.lockID)) on \(s.board)
              relay   \(s.relayUnlocked ? "UNLOCKED" : "locked") (coil \(s.relayEnergized ? "energized" : "off"))
              door    \(s.doorClosed ? "closed" : "OPEN")   rex \(s.rexActive ? "pressed" : "idle")   tamper \(s.tamperActive ? "TRIPPED" : "ok")
              modes   passage \(s.passage ? "on" : "off")   lockdown \(s.lockdown ? "ON" : "off")
              alarms  \(s.alarms.isEmpty ? "none" : s.alarms.joined(separator: ", "))
              access list v\(s.accessListVersion)   audit seq \(s.auditLastSeq) (durable \(s.auditDurableSeq))   time \(s.time == "trusted" ? "trusted" : s.time.uppercased())
            """
        )
        if let error = s.auditWriteError {
            print("  journal CANNOT WRITE (\(s.auditPending) records waiting in memory): \(error)")
        }
    }
}

struct PulseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pulse",
        abstract: "Unlock for a few seconds (installer wiring check)."
    )
    @OptionGroup var opts: SocketOption
    @Option(help: "Seconds, up to 600.") var seconds: Double = 5

    func run() throws {
        _ = try callDaemon(opts.socket, ControlRequest(cmd: "pulse", seconds: seconds))
        print("relay pulsed for \(seconds) s")
    }
}

struct WatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Stream audit records live: inputs, relay, decisions, alarms."
    )
    @OptionGroup var opts: SocketOption
    @Option(help: "Stop after this many records (default: until interrupted).") var count: Int?

    func run() throws {
        let client = try ControlClient(path: opts.socket)
        try client.send(ControlRequest(cmd: "watch"))
        var n = 0
        while count.map({ n < $0 }) ?? true {
            let r = try client.receive()
            guard let rec = r.record else { continue }
            Stdout.line(
                AuditFormat.line(
                    seq: rec.seq,
                    ms: rec.timeMillis,
                    kind: rec.kind,
                    reason: rec.reason,
                    detail: rec.detail,
                    credential: rec.credentialID,
                    user: rec.userID
                )
            )
            n += 1
        }
    }
}

struct LockdownCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lockdown",
        abstract: "Lockdown on or off: relock, refuse every credential (REX still works)."
    )
    @OptionGroup var opts: SocketOption
    @Argument(help: "on or off") var state: String

    func run() throws {
        guard ["on", "off"].contains(state) else { throw ValidationError("lockdown takes on or off, not '\(state)'") }
        _ = try callDaemon(opts.socket, ControlRequest(cmd: "lockdown", on: state == "on"))
        print("lockdown \(state)")
    }
}

struct PassageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "passage",
        abstract: "Passage mode: on, off (manual override) or auto (follow the schedule)."
    )
    @OptionGroup var opts: SocketOption
    @Argument(help: "on, off or auto") var mode: String

    func run() throws {
        guard ["on", "off", "auto"].contains(mode) else {
            throw ValidationError("passage takes on, off or auto, not '\(mode)'")
        }
        _ = try callDaemon(opts.socket, ControlRequest(cmd: "passage", mode: mode))
        print("passage \(mode)")
    }
}

struct SimCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sim",
        abstract: "Drive a simulated board's inputs (chip: sim only)."
    )
    @OptionGroup var opts: SocketOption
    @Argument(help: "door_contact, rex or tamper") var input: String
    @Argument(help: "door_contact: open|closed; rex: press|release; tamper: trip|clear") var state: String

    func run() throws {
        let active: Bool
        switch (input, state) {
        case ("door_contact", "closed"), ("rex", "press"), ("tamper", "trip"): active = true
        case ("door_contact", "open"), ("rex", "release"), ("tamper", "clear"): active = false
        default: throw ValidationError("unknown input/state '\(input) \(state)'")
        }
        _ = try callDaemon(opts.socket, ControlRequest(cmd: "sim_input", input: input, active: active))
    }
}

struct TimeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "time",
        abstract: "The board's clock.",
        subcommands: [Confirm.self]
    )

    struct Confirm: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Vouch for the board's clock after it jumped forward (status time: unconfirmed). Check `date` first."
        )
        @OptionGroup var opts: SocketOption

        func run() throws {
            let r = try callDaemon(opts.socket, ControlRequest(cmd: "time_confirm"))
            print("time \(r.status?.time ?? "?") at \(Date())")
        }
    }
}

struct RelaySafeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relay-safe",
        abstract: "Drive the relay to its locked level and release it (systemd ExecStopPost; works without wardend).",
        discussion:
            "Reads only the board profile (and the config's `board:` line): a broken config, a missing key or a bad certificate does not stop it."
    )
    @Option(help: "Board profile.") var board: String?
    @Option(help: "Config file (its board profile is used).") var config = "/etc/warden/warden.yaml"

    func run() throws {
        let profilePath = try board ?? WardenConfig.boardPath(ofConfigAt: config)
        let profile = try BoardProfile.load(path: profilePath)
        let io = try WardenDaemon.openIO(profile)
        try io.setRelay(energized: profile.relayEnergized(unlocked: false))
        io.close()
        print(
            "relay on \(profile.chip) line \(profile.relay.line) set to locked (\(profile.relayKind == .strike ? "coil off" : "coil energized"))"
        )
    }
}

struct AccessCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "access",
        abstract: "Access list.",
        subcommands: [Apply.self]
    )

    struct Apply: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send a signed access-list update (JWS file) to wardend."
        )
        @OptionGroup var opts: SocketOption
        @Argument(help: "File holding the signed update.") var file: String

        func run() throws {
            let token = try KeyFiles.readText(file)
            let r = try callDaemon(opts.socket, ControlRequest(cmd: "access_apply", token: token))
            print("access list now at v\(r.version ?? -1)")
        }
    }
}
