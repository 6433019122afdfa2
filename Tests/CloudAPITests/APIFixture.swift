import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Mosquitto
import NIOCore
import PostgresNIO
import WardenCloud
import WardenTestSupport

/// A real PostgreSQL 15 and mosquitto, warden-cloud's runtime on them, and the API's router driven in process.
/// Two orgs: `acme` (sites hq and lab) and `globex` (its own site), each with an admin; acme also has a site
/// manager of hq and a viewer. Every token below is a real one, made the way the API makes them.
final class APIFixture: Sendable {
    let pg: PostgresServer
    let broker: MosquittoBroker
    let runtime: CloudRuntime
    let runner: Task<Void, Never>
    let logger: Logger
    let routes: [ManagerAPI.Route]
    let directory: URL
    let tokens: [String: String]

    struct SetUpFailed: Error, CustomStringConvertible { var description: String }

    init() async throws {
        // initdb and the server's start take seconds of blocking waits: on a thread of their own, not on one of the
        // two cooperative threads every other suite of `swift test --parallel` needs (a starved board test's
        // journal flush timed out while these ran).
        pg = try await withCheckedThrowingContinuation { c in
            Thread.detachNewThread { c.resume(with: Result { try PostgresServer.start() }) }
        }
        broker = try await MosquittoBroker.start()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("api-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let keyFile = directory.appendingPathComponent("authority.pem").path
        _ = FileManager.default.createFile(
            atPath: keyFile,
            contents: Data(P256.Signing.PrivateKey().pemRepresentation.utf8),
            attributes: [.posixPermissions: 0o600]
        )
        var config = CloudConfig()
        config.database.port = pg.port
        config.broker.port = broker.port
        config.authorityKeyFile = keyFile
        config.authorityKeyID = "org-1"
        // Provisioning on: a device CA made the way `warden-cloud device-ca-init` makes it, another CA standing in
        // for the broker's, and the revocation list in the folder (ProvisioningTests read it with openssl).
        let ca = try DeviceCA.create(name: "Test device CA", now: Date())
        let brokerCA = try DeviceCA.create(name: "Test broker CA", now: Date())
        var provisioning = CloudConfig.Provisioning()
        provisioning.caKeyFile = directory.appendingPathComponent("device-ca.key").path
        provisioning.caCertFile = directory.appendingPathComponent("device-ca.pem").path
        provisioning.brokerCAFile = directory.appendingPathComponent("broker-ca.pem").path
        provisioning.crlFile = directory.appendingPathComponent("device-ca.crl").path
        provisioning.broker = "mqtt.example.test:8883"
        _ = FileManager.default.createFile(
            atPath: provisioning.caKeyFile,
            contents: Data(ca.keyPEM().utf8),
            attributes: [.posixPermissions: 0o600]
        )
        try ca.certificatePEM().write(toFile: provisioning.caCertFile, atomically: true, encoding: .utf8)
        try brokerCA.certificatePEM().write(toFile: provisioning.brokerCAFile, atomically: true, encoding: .utf8)
        config.provisioning = provisioning
        var logger = Logger(label: "api-test")
        logger.logLevel = .warning
        runtime = try CloudRuntime(config: config, clientSuffix: "-api-test", awaitDelivery: false, logger: logger)
        let client = runtime.store.client
        runner = Task { await client.run() }
        try await runtime.store.migrate()
        try await runtime.mqtt.connect(host: broker.host, port: broker.port)
        self.logger = logger
        routes = try CloudHTTP.router(operations: runtime.operations, registry: nil, logger: logger).routes

        let ops = runtime.operations
        try await ops.createOrg(id: "acme", name: "Acme")
        try await ops.createOrg(id: "globex", name: "Globex")
        try await ops.createSite(org: "acme", id: "hq", name: "HQ", timeZone: "Europe/Berlin")
        try await ops.createSite(org: "acme", id: "lab", name: "Lab", timeZone: "America/New_York")
        try await ops.createSite(org: "globex", id: "g-site", name: "Globex HQ", timeZone: "UTC")
        try await ops.createDoor(org: "acme", site: "hq", id: "front", name: "Front door")
        try await ops.createDoor(org: "acme", site: "lab", id: "lab-door", name: "Lab door")
        try await ops.createDoor(org: "globex", site: "g-site", id: "g-door", name: "Globex door")
        try await ops.registerDevice(org: "acme", door: "front", id: "board-front")
        try await ops.registerDevice(org: "acme", door: "lab-door", id: "board-lab")
        try await ops.registerDevice(org: "globex", door: "g-door", id: "board-g")
        var tokens: [String: String] = [:]
        let people: [(org: String, id: String, role: Principal.Role, sites: [String], write: Bool)] = [
            ("acme", "ada", .admin, [], true),
            ("acme", "max", .siteManager, ["hq"], true),
            ("acme", "vic", .viewer, [], false),
            ("acme", "holly", .holder, [], false),
            ("globex", "gus", .admin, [], true),
        ]
        for p in people {
            try await Accounts.createUser(
                client,
                org: p.org,
                id: p.id,
                email: "\(p.id)@\(p.org).example",
                name: p.id.capitalized,
                role: p.role,
                sites: p.sites,
                passwordHash: nil,
                logger: logger
            )
            if p.role != .holder {
                tokens[p.id] = try await Accounts.createToken(
                    client,
                    org: p.org,
                    user: p.id,
                    name: "test",
                    write: p.write,
                    logger: logger
                ).token
            }
        }
        tokens["ada-read"] = try await Accounts.createToken(
            client,
            org: "acme",
            user: "ada",
            name: "read-only",
            write: false,
            logger: logger
        ).token
        self.tokens = tokens
    }

    deinit {
        runtime.mqtt.disconnect()
        runner.cancel()
        pg.stop()
        broker.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    /// psql waits on a child process: on a thread of its own too, for the reason `init` gives.
    func sql(_ query: String) async -> String {
        let pg = pg
        return await withCheckedContinuation { c in
            Thread.detachNewThread { c.resume(returning: pg.value(query)) }
        }
    }

    /// Runs `body` with a client for the API (in process: no socket, the same router the server runs).
    func run(_ body: @Sendable @escaping (APIClient) async throws -> Void) async throws {
        let app = Application(
            router: try CloudHTTP.router(operations: runtime.operations, registry: nil, logger: logger).router
        )
        try await app.test(.router) { client in try await body(APIClient(client: client, tokens: tokens)) }
    }
}

/// Requests as a named person (`as:` picks their token), answers as status and JSON.
struct APIClient: Sendable {
    let client: any TestClientProtocol
    let tokens: [String: String]

    struct Answer: Sendable {
        var status: HTTPResponse.Status
        var headers: HTTPFields
        var body: String
        var bytes: [UInt8]
        var json: Any? { try? JSONSerialization.jsonObject(with: Data(body.utf8)) }
        var object: [String: Any] { json as? [String: Any] ?? [:] }
        var items: [[String: Any]] { object["items"] as? [[String: Any]] ?? [] }
        var ids: [String] { items.compactMap { $0["id"] as? String } }
        var field: String? { object["field"] as? String }
    }

    @discardableResult
    func call(
        _ method: HTTPRequest.Method,
        _ path: String,
        as who: String? = "ada",
        json: String? = nil,
        token: String? = nil,
        headers extra: HTTPFields = [:],
        body raw: String? = nil,
        bytes: [UInt8]? = nil
    ) async throws -> Answer {
        var headers = extra
        if let t = token ?? who.flatMap({ tokens[$0] }) { headers[.authorization] = "Bearer \(t)" }
        if json != nil, headers[.contentType] == nil { headers[.contentType] = "application/json" }
        return try await client.execute(
            uri: path,
            method: method,
            headers: headers,
            body: bytes.map { ByteBuffer(bytes: $0) } ?? (json ?? raw).map { ByteBuffer(string: $0) }
        ) { r in
            Answer(status: r.status, headers: r.headers, body: String(buffer: r.body), bytes: Array(buffer: r.body))
        }
    }

    func get(_ path: String, as who: String? = "ada") async throws -> Answer { try await call(.get, path, as: who) }

    func post(_ path: String, _ json: String = "{}", as who: String? = "ada") async throws -> Answer {
        try await call(.post, path, as: who, json: json)
    }
}
