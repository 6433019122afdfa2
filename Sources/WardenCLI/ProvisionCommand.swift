import ArgumentParser
import Crypto
import Foundation
import SwiftASN1
import WardenController
import WardenProtocol
import WardenWire
import X509

/// `wardenctl provision`: on the board, in one non-interactive command, from an installer's enrollment token to
/// a board that runs with its own identity (docs/provisioning.md). Safe to repeat: a board already provisioned
/// for the same cloud and door changes nothing; any failure before the cloud's answer changes nothing on disk.
struct ProvisionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "provision",
        abstract: "Provision this board: keys made here, certificates from the cloud, warden.yaml and wardend enabled."
    )
    @Option(help: "warden-cloud's URL, e.g. https://warden.example.com.") var cloud: String
    @Option(parsing: .unconditional, help: "The enrollment token a manager made for this site (and door).")
    var token: String
    @Option(help: "The board profile's name (boards/NAME.yaml), e.g. rpi4-waveshare-relay.") var board: String
    @Option(help: "The door, when the token names none.") var door: String?
    @Option(help: "The file system root to provision (tests and images).") var root = "/"
    @Option(
        help:
            "Where board profiles are (default: ROOT/etc/warden/boards, the package's, then ROOT/usr/share/warden/boards)."
    )
    var boardsDir: String?
    @Option(help: "Install wardend.service from this folder when it is not installed yet.") var unitsDir: String?
    @Option(help: "Present over this Unix socket instead of BLE (simulated boards and tests).") var unixSocket: String?

    func validate() throws {
        guard DeviceTopics.isValidID(board) else { throw ValidationError("--board '\(board)' is not a profile name") }
        if let door, !DeviceTopics.isValidID(door) { throw ValidationError("--door '\(door)' is not a door id") }
        guard !token.isEmpty, !token.contains(where: \.isWhitespace) else {
            throw ValidationError("--token is empty or has spaces: copy it whole")
        }
    }

    func run() async throws {
        let layout = BoardLayout(root: root)
        let client = try ProvisionClient(cloud: cloud)
        let profile = try Self.boardProfile(board, layout: layout, boardsDir: boardsDir)
        let unit = try Self.unitSource(layout: layout, unitsDir: unitsDir)

        if let done = layout.readRecord() {
            let cert = try? Certificate(pemEncoded: String(contentsOfFile: layout.brokerCertificate, encoding: .utf8))
            guard done.cloud == client.cloud, door == nil || door == done.door, done.board == board,
                let cert, cert.notValidAfter > Date()
            else {
                throw CLIError(
                    "this board is provisioned as \(done.device) on door \(done.door) of \(done.cloud) (profile \(done.board)); run `wardenctl deprovision` first to provision it otherwise"
                )
            }
            print(
                "already provisioned as \(done.device) (org \(done.org), site \(done.site), door \(done.door)); certificate valid until \(ISO8601DateFormatter().string(from: cert.notValidAfter)); nothing changed"
            )
            return
        }

        if let problem = BoardProvisioning.clockProblem(board: Date(), cloud: try await client.cloudTime()) {
            throw CLIError(problem)
        }
        // Made here, in memory: written only once the cloud has accepted them, so a refusal leaves no trace.
        let lockKey = P256.Signing.PrivateKey()
        let brokerKey = P256.Signing.PrivateKey()
        let csr = try CertificateSigningRequest(
            version: .v1,
            subject: try DistinguishedName { CommonName("warden-board") },
            privateKey: .init(brokerKey),
            attributes: .init(),
            signatureAlgorithm: .ecdsaWithSHA256
        ).serializeAsPEM().pemString
        let proof = try lockKey.signature(for: BoardProvisioning.lockKeyProofMessage(csr: csr))
        let answer = try await client.provision(
            .init(
                token: token,
                csr: csr,
                lockKey: lockKey.publicKey.x963Representation.base64EncodedString(),
                lockKeyProof: proof.derRepresentation.base64EncodedString(),
                board: board,
                door: door
            )
        )
        try Self.check(answer, brokerKey: brokerKey, lockKey: lockKey)

        try layout.makeFolders()
        try BoardLayout.write(lockKey.pemRepresentation, to: layout.lockKey, mode: 0o600)
        try BoardLayout.write(brokerKey.pemRepresentation, to: layout.brokerKey, mode: 0o600)
        try BoardLayout.write(answer.certificate, to: layout.brokerCertificate, mode: 0o644)
        try BoardLayout.write(answer.brokerCa, to: layout.brokerCA, mode: 0o644)
        try BoardLayout.write(answer.lockCertificate, to: layout.lockCertificate, mode: 0o644)
        for k in answer.authorityKeys {
            guard DeviceTopics.isValidID(k.kid) else { throw CLIError("the cloud sent an authority key id '\(k.kid)'") }
            try BoardLayout.write(k.publicKey, to: layout.authorityKey(k.kid), mode: 0o644)
        }
        let now = Date()
        let text = BoardConfigWriter.render(
            answer,
            layout: layout,
            boardProfile: profile,
            presentation: .init(unixSocket: unixSocket),
            now: now
        )
        // wardend's own parser checks the file (and every key it names) before it replaces the old one.
        let candidate = layout.path("etc/warden/warden.yaml.new")
        try BoardLayout.write(text, to: candidate, mode: 0o644)
        do { _ = try WardenConfig.load(path: candidate) } catch {
            throw CLIError("the written config does not pass wardend's check: \(error)")
        }
        guard rename(candidate, layout.config) == 0 else { throw CLIError("cannot replace \(layout.config)") }
        Self.giveKeysToWarden(layout)
        try layout.write(
            .init(
                cloud: client.cloud,
                device: answer.device,
                org: answer.org,
                site: answer.site,
                door: answer.door,
                board: board,
                certificateNotAfter: answer.certificateNotAfter,
                provisionedAt: now
            )
        )
        print(
            "provisioned \(answer.device): org \(answer.org), site \(answer.site), door \(answer.door), broker \(answer.broker); certificate valid until \(ISO8601DateFormatter().string(from: answer.certificateNotAfter)); config \(layout.config)"
        )
        try Self.enable(unit: unit, layout: layout)
    }

    /// wardend runs as the `warden` user (provisioning/systemd/wardend.service): its keys and state are its own.
    /// Where no such user exists (a test root, a development machine) they stay with whoever provisioned.
    static func giveKeysToWarden(_ layout: BoardLayout) {
        guard let pw = getpwnam("warden") else { return }
        let files = (try? FileManager.default.contentsOfDirectory(atPath: layout.keys)) ?? []
        for path in [layout.keys, layout.stateDirectory]
            + files.map({ (layout.keys as NSString).appendingPathComponent($0) })
        {
            chown(path, pw.pointee.pw_uid, pw.pointee.pw_gid)
        }
    }

    /// The cloud's answer is checked before anything is written: the certificates are for the keys made here.
    static func check(
        _ a: BoardProvisioning.Provisioned,
        brokerKey: P256.Signing.PrivateKey,
        lockKey: P256.Signing.PrivateKey
    ) throws {
        guard BoardProvisioning.isProvisionedID(a.device) else {
            throw CLIError("the cloud named the board '\(a.device)'")
        }
        guard let cert = try? Certificate(pemEncoded: a.certificate), cert.publicKey == .init(brokerKey.publicKey),
            cert.subject.description == "CN=\(a.device)"
        else { throw CLIError("the cloud's certificate is not for this board's key and id; nothing was written") }
        guard let raw = Data(base64Encoded: a.lockCertificate), let lock = try? LockCertificate.parse(Array(raw)),
            lock.lockID == a.device, lock.deviceKey.rawRepresentation == lockKey.publicKey.rawRepresentation
        else { throw CLIError("the cloud's lock certificate is not for this board's lock key; nothing was written") }
    }

    /// The profile file for `name`, parsed (an unknown or broken profile stops here, before the token is spent).
    static func boardProfile(_ name: String, layout: BoardLayout, boardsDir: String?) throws -> String {
        let dirs = boardsDir.map { [$0] } ?? [layout.path("etc/warden/boards"), layout.path("usr/share/warden/boards")]
        for dir in dirs {
            let path = (dir as NSString).appendingPathComponent("\(name).yaml")
            guard FileManager.default.fileExists(atPath: path) else { continue }
            do { _ = try BoardProfile.load(path: path) } catch {
                throw CLIError("board profile \(path) does not load: \(error)")
            }
            return path
        }
        let known = dirs.flatMap { (try? FileManager.default.contentsOfDirectory(atPath: $0)) ?? [] }
            .filter { $0.hasSuffix(".yaml") }.map { String($0.dropLast(5)) }.sorted()
        throw CLIError(
            "unknown board profile '\(name)': known are \(known.isEmpty ? "none" : known.joined(separator: ", ")) (in \(dirs.joined(separator: ", ")))"
        )
    }

    /// Where wardend.service comes from: already installed (by the package), or a folder to copy it from.
    static func unitSource(layout: BoardLayout, unitsDir: String?) throws -> String? {
        let installed = ["etc/systemd/system", "usr/lib/systemd/system", "lib/systemd/system"].map {
            layout.path("\($0)/wardend.service")
        }
        if installed.contains(where: { FileManager.default.fileExists(atPath: $0) }) { return nil }
        guard let unitsDir else {
            throw CLIError(
                "wardend.service is not installed (looked in \(installed.joined(separator: ", "))): install the warden package, or pass --units-dir"
            )
        }
        let source = (unitsDir as NSString).appendingPathComponent("wardend.service")
        guard FileManager.default.isReadableFile(atPath: source) else {
            throw CLIError("no wardend.service in \(unitsDir)")
        }
        return source
    }

    /// Installs the unit when it came from --units-dir and enables it; on a running system, (re)starts wardend.
    static func enable(unit: String?, layout: BoardLayout) throws {
        if let unit {
            try FileManager.default.createDirectory(atPath: layout.systemUnits, withIntermediateDirectories: true)
            let target = (layout.systemUnits as NSString).appendingPathComponent("wardend.service")
            try BoardLayout.write(try Data(contentsOf: URL(fileURLWithPath: unit)), to: target, mode: 0o644)
        }
        let live = layout.root == "/" && FileManager.default.fileExists(atPath: "/run/systemd/system")
        let rootArgs = layout.root == "/" ? [] : ["--root=\(layout.root)"]
        try SystemCommand.run("/usr/bin/systemctl", rootArgs + ["enable", "wardend.service"], what: "enabling wardend")
        if live {
            try SystemCommand.run("/usr/bin/systemctl", ["restart", "wardend.service"], what: "starting wardend")
            print("wardend enabled and started")
        } else {
            print("wardend enabled\(layout.root == "/" ? "" : " in \(layout.root)") (it starts at the next boot)")
        }
    }
}
