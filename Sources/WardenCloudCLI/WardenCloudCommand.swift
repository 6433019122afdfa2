import ArgumentParser
import Foundation
import Logging
import WardenCloud
import WardenWire

/// `warden-cloud`: the service (`serve`: the consumer and the HTTP API) and the operator's commands over the same
/// Swift API, among them the first admin and API token of a new org.
public struct WardenCloudCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "warden-cloud",
        abstract: "Warden's cloud: consumes the boards' MQTT traffic into PostgreSQL and signs what boards trust.",
        subcommands: [
            Serve.self, Check.self, Migrate.self, OrgAdd.self, SiteAdd.self, DoorAdd.self, DeviceAdd.self, Grant.self,
            Revoke.self, Unlock.self, Lockdown.self, SyncNow.self, Audit.self, FleetAdd.self, UserAdd.self,
            TokenAdd.self, DeviceCAInit.self,
        ]
    )
    public init() {}

    /// The executable's entry point (the `main` stays thin). `warden-cloud --check --config F` is `check`, like
    /// `wardend --check`.
    public static func start() async {
        var arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.first == "--check" { arguments[0] = "check" }
        await main(arguments)
    }
}

struct Common: ParsableArguments {
    @Option(name: .long, help: "The YAML config (environment variables override it; see docs/cloud.md).")
    var config: String?

    func runtime(suffix: String, awaitDelivery: Bool = true) throws -> CloudRuntime {
        let c = try CloudConfig.load(path: config)
        let level = Logger.Level(rawValue: c.logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = level
            return h
        }
        return try CloudRuntime(
            config: c,
            clientSuffix: suffix,
            awaitDelivery: awaitDelivery,
            logger: Logger(label: "warden-cloud")
        )
    }

    func oneShot<T: Sendable>(
        broker: Bool = false,
        _ body: @Sendable @escaping (CloudOperations) async throws -> T
    )
        async throws -> T
    {
        let rt = try runtime(suffix: "-cli-\(getpid())")
        return try await rt.oneShot(broker: broker) { try await body(rt.operations) }
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the consumer and the access-list re-send loop.")
    @OptionGroup var common: Common
    func run() async throws {
        let rt = try common.runtime(suffix: "", awaitDelivery: false)
        try await rt.serve()
    }
}

struct Check: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check the config and the authority key, like nginx -t.")
    @OptionGroup var common: Common
    func run() async throws {
        switch Self.check(common.config) {
        case .success(let message): print(message)
        case .failure(let e):
            FileHandle.standardError.write(Data("warden-cloud: \(e.description)\n".utf8))
            throw ExitCode(1)
        }
    }

    static func check(_ path: String?) -> Result<String, CloudError> {
        Result { () throws(CloudError) -> String in
            let c = try CloudConfig.load(path: path)
            _ = try CloudAuthority.load(keyFile: c.authorityKeyFile, keyID: c.authorityKeyID)
            return
                "\(path ?? "environment"): ok (database \(c.database.user)@\(c.database.host):\(c.database.port)/\(c.database.name), broker \(c.broker.host):\(c.broker.port), authority key \(c.authorityKeyID))"
        }
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply the schema migrations and create partitions.")
    @OptionGroup var common: Common
    func run() async throws {
        let n = try await common.oneShot { ops in
            let n = try await ops.store.migrate()
            try await ops.store.ensurePartitions(around: Date())
            return n
        }
        print("schema current (\(n) migration(s) applied)")
    }
}

struct OrgAdd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "org-add", abstract: "Create (or rename) an org.")
    @OptionGroup var common: Common
    @Option var id: String
    @Option var name: String
    func run() async throws {
        let (id, name) = (id, name)
        try await common.oneShot { try await $0.createOrg(id: id, name: name) }
        print("org \(id)")
    }
}

struct SiteAdd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "site-add", abstract: "Create a site.")
    @OptionGroup var common: Common
    @Option var org: String
    @Option var id: String
    @Option var name: String?
    @Option(name: .customLong("time-zone"), help: "IANA zone, e.g. Europe/Berlin.") var timeZone: String
    @Option(help: "A holiday (YYYY-MM-DD); repeat for more.") var holiday: [String] = []
    func run() async throws {
        let (org, id, name, tz, days) = (org, id, name ?? id, timeZone, holiday)
        try await common.oneShot { try await $0.createSite(org: org, id: id, name: name, timeZone: tz, holidays: days) }
        print("site \(org)/\(id)")
    }
}

struct DoorAdd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "door-add", abstract: "Create a door on a site.")
    @OptionGroup var common: Common
    @Option var org: String
    @Option var site: String
    @Option var id: String
    @Option var name: String?
    func run() async throws {
        let (org, site, id, name) = (org, site, id, name ?? id)
        try await common.oneShot { try await $0.createDoor(org: org, site: site, id: id, name: name) }
        print("door \(org)/\(id)")
    }
}

struct DeviceAdd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "device-add",
        abstract: "Register a board (its lock id) on a door."
    )
    @OptionGroup var common: Common
    @Option var org: String
    @Option var door: String
    @Option var id: String
    func run() async throws {
        let (org, door, id) = (org, door, id)
        try await common.oneShot { try await $0.registerDevice(org: org, door: door, id: id) }
        print("device \(org)/\(id) on door \(door)")
    }
}

struct AccessOptions: ParsableArguments {
    @Option var org: String
    @Option(help: "A door (repeatable).") var door: [String] = []
    @Flag(help: "Every door of the org (grant), or every door that lists the credential (revoke).")
    var allDoors = false
    @Option var credential: String
    @Option var user: String

    func validate() throws {
        guard allDoors != !door.isEmpty else { throw ValidationError("give --door (repeatable) or --all-doors") }
    }

    /// Grants or revokes in one transaction, and says which access-list version now holds the change.
    func change(_ common: Common, revoke: Bool) async throws {
        let a = self
        let started = ContinuousClock.now
        let versions = try await common.oneShot(broker: true) { ops in
            let doors =
                !a.allDoors
                ? a.door
                : revoke
                    ? try await ops.doorsListing(org: a.org, credentialID: a.credential)
                    : try await ops.allDoors(org: a.org)
            let entry = [AccessListUpdate.Entry(id: a.credential, user: a.user)]
            return try await ops.change(
                org: a.org,
                doors: doors,
                grant: revoke ? [] : entry,
                revoke: revoke ? entry : []
            )
        }
        let verb = revoke ? "revoked" : "granted"
        if let missing = a.door.first(where: { versions[$0] == nil }) {
            throw ValidationError("door '\(missing)' not found in org '\(a.org)'; nothing was changed there")
        }
        if versions.count == 1, let (door, v) = versions.first {
            print("\(verb) \(a.credential) (\(a.user)) at \(door): access list v\(v)")
        } else {
            print("\(verb) \(a.credential) (\(a.user)) at \(versions.count) doors in \(started.duration(to: .now))")
        }
    }
}

struct FleetAdd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleet-add",
        abstract: "Register a simulated fleet: doors door-PREFIX-NNNNN and boards PREFIX-NNNNN (wardenctl fleet-sim)."
    )
    @OptionGroup var common: Common
    @Option var org: String
    @Option var site: String
    @Option var prefix = "sim"
    @Option var first = 0
    @Option var count: Int
    func run() async throws {
        let (org, site, prefix, first, count) = (org, site, prefix, first, count)
        try await common.oneShot {
            try await $0.registerFleet(org: org, site: site, prefix: prefix, first: first, count: count)
        }
        print("fleet \(org)/\(prefix)-\(String(format: "%05d", first))... \(count) boards on site \(site)")
    }
}

struct Grant: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Grant a credential at a door: a new signed access-list version, sent to its boards."
    )
    @OptionGroup var common: Common
    @OptionGroup var access: AccessOptions
    func run() async throws { try await access.change(common, revoke: false) }
}

struct Revoke: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Revoke a credential at a door: a new signed access-list version, sent to its boards."
    )
    @OptionGroup var common: Common
    @OptionGroup var access: AccessOptions
    func run() async throws { try await access.change(common, revoke: true) }
}

struct CommandOptions: ParsableArguments {
    @Option var org: String
    @Option var device: String
    @Option(help: "Seconds to wait for the board's answer.") var wait: Double = 10
}

/// Sends a signed command and prints the board's answer; exit 1 if it refused, 2 if it did not answer in time.
func runCommand(
    _ common: Common,
    _ o: CommandOptions,
    _ kind: SignedCommand.Kind,
    millis: Int64? = nil,
    on: Bool? = nil
)
    async throws
{
    let wait = Duration.milliseconds(Int64(o.wait * 1000))
    let (org, device) = (o.org, o.device)
    let result = try await common.oneShot(broker: true) { ops -> CommandResult? in
        let jti = try await ops.command(org: org, device: device, kind, millis: millis, on: on)
        return try await ops.commandResult(jti: jti, timeout: wait)
    }
    guard let result else {
        print(
            "\(kind.rawValue) sent to \(device); no answer within \(o.wait) s (it runs when the board gets it, if unexpired)"
        )
        throw ExitCode(2)
    }
    print("\(kind.rawValue) on \(device): \(result.code.rawValue)\(result.detail.map { " (\($0))" } ?? "")")
    if !result.ok { throw ExitCode(1) }
}

struct Unlock: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Unlock a door remotely for a few seconds (signed command)."
    )
    @OptionGroup var common: Common
    @OptionGroup var command: CommandOptions
    @Option var seconds: Double = 5
    func run() async throws {
        guard seconds > 0, seconds <= 3600 else { throw ValidationError("--seconds must be in (0, 3600]") }
        try await runCommand(common, command, .unlock, millis: Int64(seconds * 1000))
    }
}

struct Lockdown: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Lockdown on or off (signed command).")
    @OptionGroup var common: Common
    @OptionGroup var command: CommandOptions
    @Argument(help: "on or off") var state: String
    func run() async throws {
        guard state == "on" || state == "off" else { throw ValidationError("lockdown takes on or off, got '\(state)'") }
        try await runCommand(common, command, .lockdown, on: state == "on")
    }
}

struct SyncNow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync",
        abstract: "Ask a board to re-send state and audit and fetch what it lacks (signed command)."
    )
    @OptionGroup var common: Common
    @OptionGroup var command: CommandOptions
    func run() async throws { try await runCommand(common, command, .sync) }
}

struct Audit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Read the org's audit trail, newest first.")
    @OptionGroup var common: Common
    @Option var org: String
    @Option var door: String?
    @Option var user: String?
    @Option var device: String?
    @Option var limit: Int = 50
    @Flag(help: "One JSON object per line.") var json = false
    func run() async throws {
        let (org, door, user, device, limit) = (org, door, user, device, limit)
        let rows = try await common.oneShot {
            try await $0.audit(org: org, door: door, user: user, device: device, limit: limit)
        }
        for r in rows {
            if json {
                print(String(decoding: WireJSON.encode(r), as: UTF8.self))
            } else {
                let at = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: Double(r.atMillis) / 1000))
                print(
                    "\(at) \(r.device) #\(r.seq) \(r.kind) \(r.reason ?? "") \(r.userID ?? "") \(r.detail ?? "")\(r.flags.map { " FLAGS=\($0.joined(separator: ","))" } ?? "")"
                )
            }
        }
    }
}

struct UserAdd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user-add",
        abstract: "Add a person to an org: the first admin of a new org, who then manages the rest over the API."
    )
    @OptionGroup var common: Common
    @Option var org: String
    @Option var id: String
    @Option var email: String
    @Option var name: String
    @Option(help: "admin, site_manager, viewer or holder.") var role = "admin"
    @Option(help: "A site a site manager manages (repeatable).") var site: [String] = []
    @Option(
        name: .customLong("password-file"),
        help: "A file holding the dashboard password (at least 12 characters; never on the command line)."
    ) var passwordFile: String?

    func run() async throws {
        guard let role = Principal.Role(rawValue: role) else {
            throw ValidationError("--role must be admin, site_manager, viewer or holder, not '\(self.role)'")
        }
        guard DeviceTopics.isValidID(id) else { throw ValidationError("--id '\(id)': use 1-64 of a-z, 0-9 and '-'") }
        var hash: String?
        if let passwordFile {
            guard let text = try? String(contentsOfFile: passwordFile, encoding: .utf8) else {
                throw ValidationError("--password-file: cannot read \(passwordFile)")
            }
            let password = text.trimmingCharacters(in: .newlines)
            guard password.count >= 12 else { throw ValidationError("--password-file: at least 12 characters") }
            hash = try Secrets.hashPassword(password)
        }
        let (org, id, email, name, site) = (org, id, email, name, site)
        try await common.oneShot { [hash] ops in
            try await Accounts.createUser(
                ops.store.client,
                org: org,
                id: id,
                email: email,
                name: name,
                role: role,
                sites: site,
                passwordHash: hash,
                logger: ops.logger
            )
        }
        print("user \(id) (\(role.rawValue)) in \(org)")
    }
}

struct TokenAdd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token-add",
        abstract: "Create an API token for a user; prints it once (it is stored hashed)."
    )
    @OptionGroup var common: Common
    @Option var org: String
    @Option var user: String
    @Option var name = "cli"
    @Flag(help: "A token that may change things (the default reads only).") var write = false

    func run() async throws {
        let (org, user, name, write) = (org, user, name, write)
        let (_, token) = try await common.oneShot { ops in
            try await Accounts.createToken(
                ops.store.client,
                org: org,
                user: user,
                name: name,
                write: write,
                logger: ops.logger
            )
        }
        print(token)
    }
}
