import ArgumentParser
import Crypto
import Foundation
import WardenKey

/// `wardenctl phone enroll` and `phone fetch`: a development phone that gets its credentials from the cloud the
/// way an app does (WardenKey's `KeyService`), into a folder `phone unlock` reads.
struct PhoneEnroll: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enroll",
        abstract: "Enroll a holder key with an invitation; writes the phone token, credentials and authority keys."
    )
    @Option(help: "The cloud's base URL, e.g. http://127.0.0.1:8080.") var cloud: String
    @Option(parsing: .unconditional, help: "The invitation token a manager created for you.") var invitation: String
    @Option(help: "Holder private key file (phone keygen); only its public half is sent.") var key: String
    @Option(help: "Folder to write: phone.json, phone.token (0600), KEY.jws per credential, authority-KID.pem.")
    var out: String

    func run() async throws {
        let holder = try KeyFiles.readPrivate(key)
        let service = KeyService(baseURL: cloud, send: PhoneHTTP.send)
        let enrollment = try await service.enroll(invitation: invitation, holderKey: holder.publicKey)
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        try PhoneFolder(path: out).write(token: enrollment.phoneToken, cloud: cloud)
        try PhoneFolder(path: out).write(enrollment.credentials)
        print(
            "enrolled phone \(enrollment.phone) for \(enrollment.credentials.user): \(enrollment.credentials.credentials.count) credential(s) in \(out)"
        )
    }
}
