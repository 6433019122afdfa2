import ArgumentParser
import Foundation

/// `wardenctl cloud …`: a facility manager's commands over the REST API (docs/api.md). The board's own commands
/// (`lockdown`, `audit`, … on the control socket) keep their names; these act through the cloud on any door.
struct CloudCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cloud",
        abstract:
            "Manage doors, keys and the audit trail through warden-cloud's API (URL and token: --url/--token-file, WARDEN_URL/WARDEN_TOKEN or ~/.config/warden/cli.conf).",
        subcommands: [
            Doors.self, Keys.self, Audit.self, Unlock.self, Lockdown.self, EnrollmentToken.self, Rollout.self,
            SupportBundle.self,
        ]
    )

    struct EnrollmentToken: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "enrollment-token",
            abstract: "A one-time token for an installer to provision a board (wardenctl provision --token)."
        )
        @OptionGroup var cloud: CloudOptions
        @Option(help: "The site.") var site: String
        @Option(help: "The door (the installer may name it instead).") var door: String?
        @Option(help: "Minutes it stays valid (5-10080).") var validMinutes = 60
        func run() async throws {
            var body: [String: Any] = ["site": site, "valid_minutes": validMinutes]
            if let door { body["door"] = door }
            let answer = try await cloud.client().json("POST", "/v1/enrollment-tokens", body: body)
            CloudClient.print(
                answer,
                rows: [answer],
                columns: ["token", "site", "door", "expires_at"],
                as: cloud.output
            )
        }
    }

    struct Doors: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Doors and their live state.",
            subcommands: [List.self]
        )
        struct List: AsyncParsableCommand {
            @OptionGroup var cloud: CloudOptions
            @Option(help: "Only this site's doors.") var site: String?
            func run() async throws {
                let answer = try await cloud.client().json("GET", "/v1/doors", query: [("site", site)])
                CloudClient.print(
                    answer,
                    rows: answer["items"] as? [[String: Any]] ?? [],
                    columns: ["id", "name", "site", "state", "boards_online", "access_version"],
                    as: cloud.output
                )
            }
        }
    }

    struct Keys: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Grant, revoke and list keys.",
            subcommands: [List.self, Grant.self, Revoke.self]
        )
        static let columns = ["id", "user", "doors", "groups", "valid_until", "status", "phones"]

        struct List: AsyncParsableCommand {
            @OptionGroup var cloud: CloudOptions
            @Option var user: String?
            @Option var door: String?
            @Option(help: "active or revoked.") var status: String?
            func run() async throws {
                let answer = try await cloud.client().json(
                    "GET",
                    "/v1/keys",
                    query: [("user", user), ("door", door), ("status", status)]
                )
                CloudClient.print(
                    answer,
                    rows: answer["items"] as? [[String: Any]] ?? [],
                    columns: Keys.columns,
                    as: cloud.output
                )
            }
        }

        struct Grant: AsyncParsableCommand {
            @OptionGroup var cloud: CloudOptions
            @Option(help: "The user id the key is for.") var user: String
            @Option(help: "A door (repeatable).") var door: [String] = []
            @Option(help: "A door group (repeatable).") var group: [String] = []
            @Option(help: "Valid from (RFC 3339; default now).") var from: String?
            @Option(help: "Valid until (RFC 3339; default a year).") var until: String?
            func run() async throws {
                var body: [String: Any] = ["user": user, "doors": door, "groups": group]
                if let from { body["valid_from"] = from }
                if let until { body["valid_until"] = until }
                let key = try await cloud.client().json("POST", "/v1/keys", body: body)
                CloudClient.print(key, rows: [key], columns: Keys.columns, as: cloud.output)
            }
        }

        struct Revoke: AsyncParsableCommand {
            @OptionGroup var cloud: CloudOptions
            @Argument(help: "The key id.") var key: String
            func run() async throws {
                let answer = try await cloud.client().json("POST", "/v1/keys/\(key)/revoke")
                CloudClient.print(answer, rows: [answer], columns: Keys.columns, as: cloud.output)
            }
        }
    }

    struct Audit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The org's audit trail from the cloud.",
            subcommands: [Tail.self, Export.self]
        )
        static let columns = ["at", "result", "kind", "user", "door", "reason", "device", "seq"]

        struct Filters: ParsableArguments {
            @Option var door: String?
            @Option var user: String?
            @Option(help: "granted, denied or alarm.") var result: String?
            @Option(help: "From this time (RFC 3339).") var since: String?
            @Option(help: "Before this time (RFC 3339).") var until: String?
            var query: [(String, String?)] {
                [("door", door), ("user", user), ("result", result), ("since", since), ("until", until)]
            }
        }

        struct Tail: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "The latest events, oldest first; --follow keeps printing new ones."
            )
            @OptionGroup var cloud: CloudOptions
            @OptionGroup var filters: Filters
            @Option var limit = 20
            @Flag(help: "Keep printing events as they are stored (every 2 s).") var follow = false
            func run() async throws {
                let client = try cloud.client()
                var seen = Set<String>()
                var first = true
                repeat {
                    let answer = try await client.json(
                        "GET",
                        "/v1/audit",
                        query: filters.query + [("limit", String(limit))]
                    )
                    let events = (answer["events"] as? [[String: Any]] ?? []).reversed().filter {
                        seen.insert("\($0["device"] ?? "")/\($0["seq"] ?? "")").inserted
                    }
                    if cloud.output == .json {
                        for e in events {
                            let data =
                                (try? JSONSerialization.data(withJSONObject: e, options: [.sortedKeys])) ?? Data()
                            Stdout.line(String(decoding: data, as: UTF8.self))
                        }
                    } else if first || !events.isEmpty {
                        CloudClient.print(answer, rows: Array(events), columns: Audit.columns, as: .text)
                    }
                    first = false
                    if follow { try await Task.sleep(for: .seconds(2)) }
                } while follow
            }
        }

        struct Export: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "The filtered trail as CSV.")
            @OptionGroup var cloud: CloudOptions
            @OptionGroup var filters: Filters
            @Option(help: "File to write (default: standard output).") var out: String?
            func run() async throws {
                let csv = try await cloud.client().call("GET", "/v1/audit/export", query: filters.query)
                if let out {
                    guard FileManager.default.createFile(atPath: out, contents: csv) else {
                        throw CLIError("cannot write \(out)")
                    }
                    Stdout.line("\(max(0, csv.split(separator: 0x0A).count - 1)) event(s) written to \(out)")
                } else {
                    FileHandle.standardOutput.write(csv)
                }
            }
        }
    }

    struct Unlock: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Unlock a door remotely (a signed command to its boards)."
        )
        @OptionGroup var cloud: CloudOptions
        @Argument(help: "The door id.") var door: String
        @Option(help: "Seconds to stay unlocked (0.5-60).") var seconds: Double = 5
        func run() async throws {
            let answer = try await cloud.client().json(
                "POST",
                "/v1/doors/\(door)/unlock",
                body: ["millis": Int(seconds * 1000)]
            )
            CloudClient.print(
                answer,
                rows: answer["commands"] as? [[String: Any]] ?? [],
                columns: ["device", "command", "id"],
                as: cloud.output
            )
        }
    }

    struct Lockdown: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Lock a door, every door of a site, or a site's lockdown plan down (or lift it with --off)."
        )
        @OptionGroup var cloud: CloudOptions
        @Argument(help: "The door id (or use --site).") var door: String?
        @Option(help: "Every board of this site.") var site: String?
        @Option(help: "Only the doors of this lockdown plan of --site.") var plan: String?
        @Flag(help: "Lift the lockdown.") var off = false
        func validate() throws {
            guard (door == nil) != (site == nil) else { throw ValidationError("give a door or --site, not both") }
            guard plan == nil || site != nil else { throw ValidationError("--plan needs --site") }
        }
        func run() async throws {
            let path =
                door.map { "/v1/doors/\($0)/lockdown" }
                ?? plan.map { "/v1/sites/\(site!)/lockdown-plans/\($0)/trigger" } ?? "/v1/sites/\(site!)/lockdown"
            let answer = try await cloud.client().json("POST", path, body: ["on": !off])
            CloudClient.print(
                answer,
                rows: answer["commands"] as? [[String: Any]] ?? [],
                columns: ["device", "command", "id"],
                as: cloud.output
            )
        }
    }

    struct Rollout: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Software rollouts: order a warden-board version to the boards in waves; follow or abort one.",
            subcommands: [Start.self, Status.self, Abort.self]
        )
        static let columns = ["device", "wave", "state", "version", "detail"]

        static func show(_ r: [String: Any], as output: CloudOptions.OutputFormat) {
            if output == .text {
                Stdout.line(
                    "rollout \(r["id"] ?? "?") of \(r["version"] ?? "?") (\(r["channel"] ?? "?")): \(r["state"] ?? "?"), wave \(r["wave"] ?? "?") of \((r["waves"] as? [Any])?.count ?? 0)\(r["reason"].map { ": \($0)" } ?? "")"
                )
            }
            CloudClient.print(r, rows: r["devices"] as? [[String: Any]] ?? [], columns: columns, as: output)
        }

        struct Start: AsyncParsableCommand {
            @OptionGroup var cloud: CloudOptions
            @Argument(help: "The warden-board version (as published in the channel).") var version: String
            @Option(help: "stable or beta.") var channel = "stable"
            @Option(help: "Cumulative wave sizes, e.g. 1,10%,100% (the default).") var waves: String?
            @Option(help: "Failed boards a wave may have before the rollout stops.") var maxFailures = 0
            @Option(help: "Only these boards (repeatable; default every board).") var device: [String] = []
            func run() async throws {
                var body: [String: Any] = ["version": version, "channel": channel, "max_failures": maxFailures]
                if let waves { body["waves"] = waves.split(separator: ",").map(String.init) }
                if !device.isEmpty { body["devices"] = device }
                Rollout.show(try await cloud.client().json("POST", "/v1/rollouts", body: body), as: cloud.output)
            }
        }

        struct Status: AsyncParsableCommand {
            @OptionGroup var cloud: CloudOptions
            @Argument(help: "The rollout id (default: the newest).") var id: String?
            func run() async throws {
                let client = try cloud.client()
                if let id {
                    Rollout.show(try await client.json("GET", "/v1/rollouts/\(id)"), as: cloud.output)
                    return
                }
                let page = try await client.json("GET", "/v1/rollouts", query: [("limit", "1")])
                guard let newest = (page["items"] as? [[String: Any]])?.first else {
                    print("no rollouts yet")
                    return
                }
                Rollout.show(newest, as: cloud.output)
            }
        }

        struct Abort: AsyncParsableCommand {
            @OptionGroup var cloud: CloudOptions
            @Argument(help: "The rollout id.") var id: String
            func run() async throws {
                Rollout.show(try await cloud.client().json("POST", "/v1/rollouts/\(id)/abort"), as: cloud.output)
            }
        }
    }
}
