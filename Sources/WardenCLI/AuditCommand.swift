import ArgumentParser
import Foundation
import WardenCore
import WardenStore
import WardenWire

struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Read and verify the board's audit journal.",
        subcommands: [List.self, Verify.self]
    )

    struct DBOption: ParsableArguments {
        @Option(help: "The board database.") var db = "/var/lib/warden/warden.sqlite"
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print audit records.")
        @OptionGroup var opts: DBOption
        @Option(help: "Only records after this sequence number.") var after: Int64 = 0
        @Option(help: "At most this many.") var limit = 1000

        func run() throws {
            let db = try WardenDatabase(path: opts.db)
            let j = try AuditJournal(database: db)
            for r in try j.records(after: after, limit: limit) {
                print(
                    AuditFormat.line(
                        seq: r.seq,
                        ms: r.timeMillis,
                        kind: r.event.kind.rawValue,
                        reason: r.event.reason,
                        detail: r.event.detail,
                        credential: r.event.credentialID,
                        user: r.event.userID
                    )
                )
            }
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check the whole hash chain; exit 1 naming the first broken record."
        )
        @OptionGroup var opts: DBOption

        func run() throws {
            let db = try WardenDatabase(path: opts.db)
            let j = try AuditJournal(database: db)
            do {
                let r = try j.verify()
                print("audit chain ok: \(r.count) records, seq \(r.firstSeq ?? 0)...\(r.lastSeq ?? 0)")
            } catch {
                throw CLIError("audit chain BROKEN: \(error)")
            }
        }
    }
}
