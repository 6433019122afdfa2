import ArgumentParser
import Crypto
import Foundation
import WardenController
import WardenCore
import WardenWire

struct PhoneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "phone",
        abstract: "A simulated phone: holder key and key presentation.",
        subcommands: [Keygen.self, PhoneUnlock.self, PhoneEnroll.self, PhoneFetch.self]
    )

    struct Keygen: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a holder key (P-256): FILE (private, 0600) and FILE.pub."
        )
        @Option(help: "Private key file to write.") var out: String

        func run() throws {
            print(try KeyFiles.generate(out: out, what: "holder key"))
        }
    }
}
