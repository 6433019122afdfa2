import Crypto
import Foundation
import Synchronization
import WardenAuthority
import WardenController
import WardenCore
import WardenKey
import WardenProtocol
import WardenStore
import WardenTestSupport
import WardenWire

/// The whole system for one test, all real: PostgreSQL 15 and mosquitto on free loopback ports, `warden-cloud
/// serve` consumers and `wardend` boards on the simulated board as processes, the org authority key in a 0600 file.
final class CloudStack: Sendable {
    static let org = "acme"
    static let kid = "k1"
    let dir: URL
    let pg: PostgresServer
    let broker: MosquittoBroker
    let authority: P256.Signing.PrivateKey
    let holder = P256.Signing.PrivateKey()
    private let consumers = Mutex<[String: ServerProcess]>([:])
    private let boards = Mutex<[Board]>([])

    static var binDir: URL {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
            repoRoot.appendingPathComponent(".build/debug"),
        ]
        return candidates.first { FileManager.default.fileExists(atPath: $0.appendingPathComponent("wardend").path) }
            ?? candidates[1]
    }
    static var repoRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
    }
    static func bin(_ name: String) -> String { binDir.appendingPathComponent(name).path }

    struct Failure: Error, CustomStringConvertible { var description: String }

    /// Broker identities (user name: password) when the broker authenticates; empty: anonymous.
    let identities: [String: String]
    /// The CA the broker's TLS certificate chains to (boards pin it); nil: plain TCP.
    let brokerCA: String?

    private init(
        dir: URL,
        pg: PostgresServer,
        broker: MosquittoBroker,
        authority: P256.Signing.PrivateKey,
        identities: [String: String],
        brokerCA: String?
    ) {
        self.dir = dir
        self.pg = pg
        self.broker = broker
        self.authority = authority
        self.identities = identities
        self.brokerCA = brokerCA
    }

    /// Database migrated, org `acme` with site `hq`; no consumer running yet (`startConsumer`). With `boards`, the
    /// broker authenticates (a password per board and one for `cloud`) and enforces provisioning/mosquitto/warden.acl.
    static func start(
        brokerConfig: String = "",
        authenticatedBoards boards: [String] = [],
        tls: Bool = false
    ) async throws -> CloudStack {
        let dir = try ServerProcess.makeDirectory("cloudstack")
        var identities: [String: String] = [:]
        var config = brokerConfig
        var brokerCA: String?
        if tls {
            let ca = try TestCA(in: dir, name: "broker")
            config += "\ncafile \(ca.caFile)\ncertfile \(ca.serverCertFile)\nkeyfile \(ca.serverKeyFile)\n"
            brokerCA = ca.caFile
        }
        if !boards.isEmpty {
            let passwd = dir.appendingPathComponent("mosquitto.passwd").path
            for user in boards + ["cloud"] {
                let password = UUID().uuidString
                identities[user] = password
                let (code, out) = Command.run(
                    "/usr/bin/mosquitto_passwd",
                    (FileManager.default.fileExists(atPath: passwd) ? ["-b"] : ["-c", "-b"]) + [passwd, user, password]
                )
                guard code == 0 else { throw Failure(description: "mosquitto_passwd: \(out)") }
            }
            // A copy beside the password file: mosquitto reads it after dropping root for its own user, who may
            // not be able to enter the checkout's folder (a fresh clone in a 0700 temporary folder).
            let acl = dir.appendingPathComponent("warden.acl").path
            try FileManager.default.copyItem(
                atPath: repoRoot.appendingPathComponent("provisioning/mosquitto/warden.acl").path,
                toPath: acl
            )
            for f in [acl, passwd] { chmod(f, 0o644) }
            config += "\nallow_anonymous false\npassword_file \(passwd)\nacl_file \(acl)\n"
        }
        let pg = try PostgresServer.start()
        let broker: MosquittoBroker
        // A broker that does not start must not leave the database running (the stack is not returned to stop it).
        do { broker = try await MosquittoBroker.start(extraConfig: config) } catch {
            pg.stop()
            throw error
        }
        let authority = P256.Signing.PrivateKey()
        let stack = CloudStack(
            dir: dir,
            pg: pg,
            broker: broker,
            authority: authority,
            identities: identities,
            brokerCA: brokerCA
        )
        for (user, password) in identities {
            _ = FileManager.default.createFile(
                atPath: dir.appendingPathComponent("\(user).password").path,
                contents: Data(password.utf8),
                attributes: [.posixPermissions: 0o600]
            )
        }
        let keyPath = dir.appendingPathComponent("authority.pem").path
        _ = FileManager.default.createFile(
            atPath: keyPath,
            contents: Data(authority.pemRepresentation.utf8),
            attributes: [.posixPermissions: 0o600]
        )
        try authority.publicKey.pemRepresentation.write(
            to: dir.appendingPathComponent("authority.pem.pub"),
            atomically: true,
            encoding: .utf8
        )
        try stack.cloudOK(["migrate"])
        try stack.cloudOK(["org-add", "--id", org, "--name", "Acme"])
        try stack.cloudOK(["site-add", "--org", org, "--id", "hq", "--time-zone", "Europe/Berlin"])
        return stack
    }

    func stop() {
        for b in boards.withLock({ $0 }) { b.stop() }
        for c in consumers.withLock({ $0 }).values { c.stop() }
        broker.stop()
        pg.stop()
        try? FileManager.default.removeItem(at: dir)
    }

    // MARK: warden-cloud

    func cloudConfig(instance: String = "1") -> String {
        let path = dir.appendingPathComponent("cloud-\(instance).yaml").path
        try? """
        database: {host: 127.0.0.1, port: \(pg.port), user: warden, name: warden}
        broker: {host: 127.0.0.1, port: \(broker.port)\(identities.isEmpty ? "" : ", username: cloud, password_file: cloud.password")\(brokerCA.map { ", ca: \($0)" } ?? "")}
        authority: {key: authority.pem, kid: \(Self.kid)}
        instance: "\(instance)"
        resend_interval_ms: 1000
        log_level: debug
        http: {host: 127.0.0.1, port: 0}

        """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Runs a `warden-cloud` subcommand; returns (exit code, stdout, stderr).
    @discardableResult
    func cloud(_ args: [String]) throws -> (Int32, String, String) {
        try Command.output(Self.bin("warden-cloud"), [args[0], "--config", cloudConfig()] + args.dropFirst())
    }

    @discardableResult
    func cloudOK(_ args: [String]) throws -> String {
        let (code, out, err) = try cloud(args)
        guard code == 0 else {
            throw Failure(description: "warden-cloud \(args.joined(separator: " ")) exited \(code):\n\(out)\n\(err)")
        }
        return out
    }

    /// Starts `warden-cloud serve` as instance `name`, returning once it has subscribed.
    @discardableResult
    func startConsumer(_ name: String = "1") async throws -> ServerProcess {
        let config = cloudConfig(instance: name)
        let p = try ServerProcess(
            executable: Self.bin("warden-cloud"),
            arguments: ["serve", "--config", config],
            directory: dir,
            logName: "cloud-\(name).log"
        )
        consumers.withLock { $0[name] = p }
        try await waitFor("consumer \(name) subscribed", timeout: .seconds(30)) {
            p.log.contains("consumer subscribed")
        }
        return p
    }

    func consumer(_ name: String) -> ServerProcess? { consumers.withLock { $0[name] } }

    /// Consumer `name`'s Prometheus metrics, scraped from its `/metrics` (its port, chosen by the kernel, is in its
    /// log): series name with labels -> value.
    func cloudMetrics(_ name: String = "1") throws -> [String: Double] {
        guard let log = consumer(name)?.log,
            let line = log.split(separator: "\n").first(where: { $0.contains("http listening") }),
            let port = line.split(separator: ":").last.flatMap({ Int($0.prefix { $0.isNumber }) })
        else { throw Failure(description: "consumer \(name) logged no http listening address") }
        let (code, out) = Command.run("/usr/bin/curl", ["-fsS", "http://127.0.0.1:\(port)/metrics"])
        guard code == 0 else { throw Failure(description: "scraping consumer \(name): \(out)") }
        return PrometheusText.parse(out)
    }

    // MARK: boards

    /// A door with one board (`wardend` on the simulated board, syncing with this stack), registered in the cloud
    /// and running. `syncExtra` adds keys to its `sync:` mapping; `brokerCA` pins another CA than the broker's.
    func addBoard(
        _ lockID: String,
        door: String? = nil,
        requireListed: Bool = true,
        syncExtra: String = "",
        brokerCA: String? = nil,
        start: Bool = true
    ) async throws -> Board {
        let door = door ?? "door-\(lockID)"
        try cloudOK(["door-add", "--org", Self.org, "--site", "hq", "--id", door])
        try cloudOK(["device-add", "--org", Self.org, "--door", door, "--id", lockID])
        let ca = (brokerCA ?? self.brokerCA).map { ", tls: {ca: \($0)}" } ?? ""
        let board = try Board(
            stack: self,
            lockID: lockID,
            door: door,
            requireListed: requireListed,
            syncExtra: ca + syncExtra
        )
        boards.withLock { $0.append(board) }
        if start { try await board.start() }
        return board
    }

    // MARK: credentials

    func credential(id: String, user: String, door: String) async throws -> String {
        let now = Date()
        return try await CredentialIssuer(keyID: Self.kid, privateKey: authority).sign(
            CredentialClaims(
                issuer: "org",
                userID: user,
                credentialID: id,
                issuedAt: now,
                notBefore: now.addingTimeInterval(-60),
                expires: now.addingTimeInterval(86_400),
                holderKey: holder.publicKey,
                doors: [door]
            )
        )
    }

    func sign(_ payload: some Encodable & Sendable) async throws -> String {
        try await CredentialIssuer(keyID: Self.kid, privateKey: authority).sign(payload)
    }

    // MARK: database

    /// The device's stored audit: (seq, hash hex) in seq order.
    func storedAudit(_ device: String) -> [(Int64, String)] {
        pg.psql("SELECT seq, encode(hash, 'hex') FROM audit_events WHERE device_id = '\(device)' ORDER BY seq").1
            .split(separator: "\n").compactMap { line in
                let p = line.split(separator: "|")
                guard p.count == 2, let s = Int64(p[0]) else { return nil }
                return (s, String(p[1]))
            }
    }
}

/// Polls `condition` until it holds, failing with `what` after `timeout`.
func waitFor(
    _ what: String,
    timeout: Duration,
    every: Duration = .milliseconds(50),
    _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while try await !condition() {
        guard ContinuousClock.now < deadline else {
            throw CloudStack.Failure(description: "timed out waiting for \(what)")
        }
        try await Task.sleep(for: every)
    }
}

/// One board: its keys, lock certificate and config in its own folder, `wardend` as a process that can be stopped,
/// crashed and started again on the same state.
final class Board: Sendable {
    let lockID: String
    let door: String
    let dir: URL
    let stack: CloudStack
    private let process = Mutex<ServerProcess?>(nil)
    var configPath: String { dir.appendingPathComponent("warden.yaml").path }
    var controlSocket: String { dir.appendingPathComponent("control.sock").path }
    var presentSocket: String { dir.appendingPathComponent("present.sock").path }
    var databasePath: String { dir.appendingPathComponent("state/warden.sqlite").path }

    init(stack: CloudStack, lockID: String, door: String, requireListed: Bool, syncExtra: String) throws {
        self.stack = stack
        self.lockID = lockID
        self.door = door
        dir = stack.dir.appendingPathComponent("board-\(lockID)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let ctl = CloudStack.bin("wardenctl")
        for args in [
            ["dev", "device-keygen", "--out", dir.appendingPathComponent("device.pem").path],
            [
                "dev", "lock-cert", "--authority", stack.dir.appendingPathComponent("authority.pem").path, "--kid",
                CloudStack.kid, "--lock-id", lockID, "--device-key", dir.appendingPathComponent("device.pem.pub").path,
                "--out", dir.appendingPathComponent("lock.cert").path,
            ],
        ] {
            let (code, out) = Command.run(ctl, args)
            guard code == 0 else { throw CloudStack.Failure(description: "wardenctl \(args[1]) failed: \(out)") }
        }
        let auth =
            stack.identities[lockID] == nil
            ? ""
            : ", username: \(lockID), password_file: \(stack.dir.appendingPathComponent("\(lockID).password").path)"
        try """
        door: { id: \(door), lock_id: \(lockID) }
        identity: { device_key: device.pem, lock_certificate: lock.cert }
        presentation: { unix: present.sock, ble: false, max_failures_per_minute: 10000, max_failures_global_per_minute: 100000 }
        board: \(CloudStack.repoRoot.appendingPathComponent("boards/sim.yaml").path)
        site: { time_zone: Europe/Berlin }
        authority_keys: { \(CloudStack.kid): \(stack.dir.appendingPathComponent("authority.pem.pub").path) }
        access: { require_listed: \(requireListed) }
        state_dir: state
        control_socket: control.sock
        sync: { org: \(CloudStack.org), broker: "127.0.0.1:\(stack.broker.port)", ack_timeout_ms: 1500\(auth)\(syncExtra) }
        metrics: { text_file: metrics.prom, interval_s: 1 }

        """.write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    /// The board's metrics file as wardend last wrote it: series name with labels -> value.
    var metrics: [String: Double] {
        PrometheusText.parse(
            (try? String(contentsOf: dir.appendingPathComponent("metrics.prom"), encoding: .utf8)) ?? ""
        )
    }

    func start() async throws {
        try? FileManager.default.removeItem(atPath: controlSocket)
        let p = try ServerProcess(
            executable: CloudStack.bin("wardend"),
            arguments: ["--config", configPath],
            directory: dir,
            logName: "wardend.log"
        )
        process.withLock { $0 = p }
        try await waitFor("wardend \(lockID) ready", timeout: .seconds(20)) {
            guard p.isRunning else { throw CloudStack.Failure(description: "wardend \(lockID) exited:\n\(p.log)") }
            return (try? status())?.ready == true
        }
    }

    /// SIGTERM: an orderly stop (relay locked, journal flushed, goodbye on MQTT).
    func stop() { process.withLock { $0 }?.stop(keepDirectory: true, grace: .seconds(5)) }
    /// SIGTERM; true if wardend exited by itself within `within` (else it is killed).
    func terminate(within: Duration) -> Bool { process.withLock { $0 }?.terminate(within: within) ?? true }
    /// SIGKILL: as a crash or a power cut.
    func crash() { process.withLock { $0 }?.crash() }
    var log: String { process.withLock { $0 }?.log ?? "" }

    func control(_ request: ControlRequest) throws -> ControlResponse {
        try ControlClient(path: controlSocket).call(request)
    }

    func status() throws -> ControllerStatus {
        guard let s = try control(ControlRequest(cmd: "status")).status else {
            throw CloudStack.Failure(description: "no status from \(lockID)")
        }
        return s
    }

    /// A phone presenting `credential` over the development transport (the protocol BLE uses).
    func present(_ credential: String) async throws -> PhoneSession.Outcome {
        let channel = try SocketFrameChannel.connect(unix: presentSocket)
        defer { channel.close() }
        let key = PhoneKey(
            lockID: lockID,
            credential: credential,
            holder: stack.holder,
            authority: [CloudStack.kid: stack.authority.publicKey]
        )
        return try await key.present(over: channel, now: UInt64(Date().timeIntervalSince1970)).outcome
    }

    /// The board's own journal (read from its SQLite file; wardend may be running).
    func journal() throws -> [AuditRecord] {
        try AuditJournal(database: try WardenDatabase(path: databasePath)).records(after: 0, limit: 1_000_000)
    }
}
