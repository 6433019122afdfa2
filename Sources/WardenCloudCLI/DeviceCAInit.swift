import ArgumentParser
import Foundation
import WardenCloud

/// `warden-cloud device-ca-init`: a self-signed device CA for the demo, tests and small on-premises installs
/// (production: an intermediate under the operator's offline root, docs/operations.md). Never overwrites a key.
struct DeviceCAInit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "device-ca-init",
        abstract: "Make the device CA that names provisioned boards: KEY (0600) and CERT (PEM), for `provisioning:`."
    )
    @Option(help: "Where the private key goes (written 0600; refused if it exists).") var key: String
    @Option(help: "Where the CA certificate goes (the broker's mutual-TLS listener trusts it).") var cert: String
    @Option(help: "Also write its first (empty) revocation list here, for mosquitto's crlfile.") var crl: String?
    @Option(help: "The CA's common name.") var name = "Warden device CA"
    @Option(help: "Validity in years.") var years = 10

    func validate() throws {
        guard (1...30).contains(years) else { throw ValidationError("--years must be from 1 to 30") }
        for path in [key, cert] where FileManager.default.fileExists(atPath: path) {
            throw ValidationError("\(path) exists; the device CA is made once (move it away to make a new one)")
        }
    }

    func run() throws {
        let ca = try DeviceCA.create(name: name, now: Date(), years: years)
        guard
            FileManager.default.createFile(
                atPath: key,
                contents: Data(ca.keyPEM().utf8),
                attributes: [.posixPermissions: 0o600]
            )
        else { throw ValidationError("cannot write \(key): check that its folder exists and is writable") }
        try ca.certificatePEM().write(toFile: cert, atomically: true, encoding: .utf8)
        if let crl {
            try ca.revocationList(revoked: [], number: 0, now: Date()).write(
                toFile: crl,
                atomically: true,
                encoding: .utf8
            )
        }
        print(
            "device CA '\(name)': key \(key) (0600), certificate \(cert)\(crl.map { ", revocation list \($0)" } ?? ""), \(years) years"
        )
    }
}
