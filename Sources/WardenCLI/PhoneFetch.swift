import ArgumentParser
import Foundation
import WardenKey

struct PhoneFetch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fetch",
        abstract: "Fetch the phone's current credentials (keys granted, changed or revoked since) into its folder."
    )
    @Option(help: "The folder `phone enroll` wrote.") var dir: String

    func run() async throws {
        let folder = PhoneFolder(path: dir)
        let (token, cloud) = try folder.readToken()
        let bundle = try await KeyService(baseURL: cloud, send: PhoneHTTP.send).fetch(phoneToken: token)
        try folder.write(bundle)
        print("\(bundle.credentials.count) credential(s): \(bundle.credentials.map(\.key).joined(separator: " "))")
    }
}
