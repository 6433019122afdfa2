import ArgumentParser
import Crypto
import Foundation
import WardenController
import WardenCore
import WardenWire

struct PhoneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "phone", abstract: "A simulated phone: holder key and key presentation.", subcommands: [Keygen.self, PhoneUnlock.self, Present.self])

    struct Keygen: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a holder key (P-256): FILE (private, 0600) and FILE.pub.")
        @Option(help: "Private key file to write.") var out: String

        func run() throws {
            print(try KeyFiles.generate(out: out, what: "holder key"))
        }
    }

    struct Present: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Present a credential over the development transport (wardend's control socket): fetch a nonce, prove possession, get the decision.")
        @OptionGroup var opts: SocketOption
        @Option(help: "Credential file (JWS).") var credential: String
        @Option(help: "Holder private key file.") var key: String
        @Option(help: "Lock id the holder proof is bound to (the door's lock_id).") var lock: String

        func run() throws {
            let token = try KeyFiles.readText(credential)
            let holder = try KeyFiles.readPrivate(key)
            let clock = ContinuousClock()
            let started = clock.now
            let client = try ControlClient(path: opts.socket)
            let c = try client.call(ControlRequest(cmd: "challenge"))
            guard c.ok, let nonceText = c.nonce, let nonce = Base64URL.decode(nonceText) else {
                throw CLIError("wardend gave no nonce: \(c.error ?? "?")")
            }
            let jti = (try? Self.credentialID(token)) ?? ""
            let proof = try HolderProof.sign(holder: holder, lockID: lock, nonce: Array(nonce), credentialID: jti)
            let r = try client.call(ControlRequest(cmd: "present", token: token, proof: Base64URL.encode(proof), nonce: nonceText))
            let ms = Double((clock.now - started).components.attoseconds) / 1e15 + Double((clock.now - started).components.seconds) * 1000
            guard r.ok else { throw CLIError("wardend refused the request: \(r.error ?? "?")") }
            print("\(r.decision ?? "?")\(r.reason.map { " (\($0))" } ?? "") in \(String(format: "%.1f", ms)) ms")
            if r.decision != "granted" { throw ExitCode(3) }
        }

        /// The phone reads its own credential's id (unverified: the lock verifies).
        static func credentialID(_ token: String) throws -> String {
            let parts = token.split(separator: ".")
            guard parts.count == 3, let data = Base64URL.decode(parts[1]),
                let obj = try JSONSerialization.jsonObject(with: data) as? [String: Any], let jti = obj["jti"] as? String
            else { throw CLIError("credential has no jti") }
            return jti
        }
    }
}
