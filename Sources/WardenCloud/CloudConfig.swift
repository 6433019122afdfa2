import Foundation
import Yams

/// warden-cloud's settings: a YAML file, then environment variables over it (the same build on-premises and hosted;
/// a container sets `WARDEN_DB_HOST`, `WARDEN_DB_PASSWORD`, ... and needs no file). Checked by `warden-cloud --check`.
public struct CloudConfig: Sendable, Equatable {
    public struct Database: Sendable, Equatable {
        public var host = "127.0.0.1"
        public var port = 5432
        public var user = "warden"
        public var password: String?
        public var name = "warden"
    }

    public struct Broker: Sendable, Equatable {
        public var host = "127.0.0.1"
        public var port = 1883
        public var caFile: String?
        public var certFile: String?
        public var keyFile: String?
        public var username: String?
        public var password: String?
    }

    /// Where warden-cloud serves HTTP (`/metrics` for Prometheus, `/healthz`); nil = no HTTP listener.
    public struct HTTP: Sendable, Equatable {
        public var host = "127.0.0.1"
        public var port = 8080
        /// How browsers reach this listener (behind a TLS proxy: its https URL); single sign-on's redirect URI is
        /// built on it. Default: `http://host:port`.
        public var publicURL: String?
    }

    /// Board provisioning (docs/provisioning.md): the device CA that names boards, what a new board is told about
    /// the broker, and where the revocation list for mosquitto's `crlfile` goes. nil: `/v1/board/provision` answers
    /// that provisioning is not configured.
    public struct Provisioning: Sendable, Equatable {
        public var caKeyFile = ""
        public var caCertFile = ""
        /// The broker as boards reach it (HOST:PORT of the mutual-TLS listener).
        public var broker = ""
        /// The CA the broker's server certificate chains to; boards pin it.
        public var brokerCAFile = ""
        /// Written on start, daily, and after each revocation (reload mosquitto on change: docs/operations.md).
        public var crlFile: String?
        public var certificateLifetime: Duration = DeviceCA.defaultLifetime
        public var lockCertificateLifetime: Duration = .seconds(730 * 86_400)
        public init() {}
    }

    public var database = Database()
    public var provisioning: Provisioning?
    public var http: HTTP?
    public var broker = Broker()
    /// The org authority's private key (PEM, P-256, mode 0600) and its key id: signs credentials, access-list
    /// updates, commands and time. Boards trust its public key (`authority_keys` in warden.yaml).
    public var authorityKeyFile = ""
    public var authorityKeyID = ""
    /// A unique name per running instance: its MQTT client id is `cloud-<instance>`.
    public var instance = "1"
    /// How often devices behind on their access list are sent what they miss.
    public var resendInterval: Duration = .seconds(30)
    /// How long a signed command stays valid.
    public var commandLifetime: Duration = .seconds(60)
    public var logLevel = "info"
    /// How long a support bundle (and its request) is kept: it holds a board's logs and layout, so it goes once
    /// support had time to read it. Swept daily.
    public var supportBundleRetention: Duration = .seconds(30 * 86_400)
    /// Parallel audit transactions (boards are sharded over them by device id; one board's batches stay in order).
    public var ingestWorkers = 2

    public init() {}

    static let keys: Set<String> = [
        "database", "broker", "authority", "instance", "resend_interval_ms", "command_lifetime_s", "log_level", "http",
        "ingest_workers", "provisioning", "support_bundle_retention_days",
    ]

    /// Reads `path` (optional) and applies the environment; every error names the file or variable and the key.
    public static func load(
        path: String?,
        environment: [String: String] = ProcessInfo.processInfo.environment
    )
        throws(CloudError) -> CloudConfig
    {
        var c = CloudConfig()
        if let path {
            let text: String
            do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
                throw CloudError(.config, "\(path): cannot read: \(error.localizedDescription)")
            }
            try c.apply(yaml: text, file: path)
        }
        try c.apply(environment: environment)
        try c.validate()
        return c
    }

    mutating func apply(yaml text: String, file: String) throws(CloudError) {
        let dir = (file as NSString).deletingLastPathComponent
        func resolve(_ p: String) -> String { p.hasPrefix("/") ? p : (dir as NSString).appendingPathComponent(p) }
        func fail(_ key: String, _ message: String) -> CloudError { CloudError(.config, "\(file): \(key): \(message)") }
        let node: Node?
        do { node = try Yams.compose(yaml: text) } catch { throw CloudError(.config, "\(file): not YAML: \(error)") }
        guard node?.mapping != nil else { throw CloudError(.config, "\(file): expected a mapping at the top") }
        func map(_ n: Node?, _ key: String, _ allowed: Set<String>) throws(CloudError) -> [String: Node] {
            guard let n else { return [:] }
            guard let m = n.mapping else { throw fail(key, "expected a mapping") }
            var out: [String: Node] = [:]
            for (k, v) in m {
                guard let ks = k.string, allowed.contains(ks) else {
                    throw fail(
                        "\(key).\(k.string ?? "?")",
                        "unknown key; allowed: \(allowed.sorted().joined(separator: ", "))"
                    )
                }
                out[ks] = v
            }
            return out
        }
        let root = try map(node, "", Self.keys)
        func string(_ m: [String: Node], _ key: String, _ path: String) throws(CloudError) -> String? {
            guard let v = m[key] else { return nil }
            guard let s = v.string, v.scalar != nil else { throw fail("\(path).\(key)", "expected a string") }
            return s
        }
        func int(
            _ m: [String: Node],
            _ key: String,
            _ path: String,
            _ range: ClosedRange<Int>
        ) throws(CloudError) -> Int? {
            guard let s = try string(m, key, path) else { return nil }
            guard let i = Int(s), range.contains(i) else {
                throw fail(
                    "\(path).\(key)",
                    "'\(s)' is not a whole number in \(range.lowerBound)...\(range.upperBound)"
                )
            }
            return i
        }
        func readSecret(_ p: String, _ key: String) throws(CloudError) -> String {
            guard let s = try? String(contentsOfFile: resolve(p), encoding: .utf8) else {
                throw fail(key, "cannot read \(p)")
            }
            return s.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let db = try map(root["database"], "database", ["host", "port", "user", "password_file", "name"])
        if let v = try string(db, "host", "database") { database.host = v }
        if let v = try int(db, "port", "database", 1...65535) { database.port = v }
        if let v = try string(db, "user", "database") { database.user = v }
        if let v = try string(db, "name", "database") { database.name = v }
        if let v = try string(db, "password_file", "database") {
            database.password = try readSecret(v, "database.password_file")
        }
        let b = try map(root["broker"], "broker", ["host", "port", "ca", "cert", "key", "username", "password_file"])
        if let v = try string(b, "host", "broker") { broker.host = v }
        if let v = try int(b, "port", "broker", 1...65535) { broker.port = v }
        broker.caFile = try string(b, "ca", "broker").map(resolve)
        broker.certFile = try string(b, "cert", "broker").map(resolve)
        broker.keyFile = try string(b, "key", "broker").map(resolve)
        broker.username = try string(b, "username", "broker")
        if let v = try string(b, "password_file", "broker") {
            broker.password = try readSecret(v, "broker.password_file")
        }
        if root["http"] != nil {
            let h = try map(root["http"], "http", ["host", "port", "public_url"])
            var v = HTTP()
            if let host = try string(h, "host", "http") { v.host = host }
            if let port = try int(h, "port", "http", 0...65535) { v.port = port }
            if let url = try string(h, "public_url", "http") {
                guard let u = URLComponents(string: url), ["http", "https"].contains(u.scheme ?? ""),
                    u.host?.isEmpty == false, u.query == nil, u.fragment == nil
                else { throw fail("http.public_url", "'\(url)' is not an http(s) URL without query or fragment") }
                v.publicURL = url
            }
            http = v
        }
        if root["provisioning"] != nil {
            let p = try map(
                root["provisioning"],
                "provisioning",
                ["ca_key", "ca_cert", "broker", "broker_ca", "crl", "cert_days", "lock_cert_days"]
            )
            var v = Provisioning()
            func required(_ key: String) throws(CloudError) -> String {
                guard let s = try string(p, key, "provisioning") else {
                    throw fail("provisioning.\(key)", "is required")
                }
                return s
            }
            v.caKeyFile = resolve(try required("ca_key"))
            v.caCertFile = resolve(try required("ca_cert"))
            v.broker = try required("broker")
            let parts = v.broker.split(separator: ":")
            guard parts.count == 2, !parts[0].isEmpty, let port = Int(parts[1]), (1...65535).contains(port) else {
                throw fail("provisioning.broker", "'\(v.broker)' is not HOST:PORT as boards reach the broker")
            }
            v.brokerCAFile = resolve(try required("broker_ca"))
            v.crlFile = try string(p, "crl", "provisioning").map(resolve)
            if let d = try int(p, "cert_days", "provisioning", 1...825) { v.certificateLifetime = .seconds(d * 86_400) }
            if let d = try int(p, "lock_cert_days", "provisioning", 1...3650) {
                v.lockCertificateLifetime = .seconds(d * 86_400)
            }
            provisioning = v
        }
        let a = try map(root["authority"], "authority", ["key", "kid"])
        if let v = try string(a, "key", "authority") { authorityKeyFile = resolve(v) }
        if let v = try string(a, "kid", "authority") { authorityKeyID = v }
        if let v = try string(root, "instance", "") { instance = v }
        if let v = try int(root, "resend_interval_ms", "", 100...3_600_000) { resendInterval = .milliseconds(v) }
        if let v = try int(root, "command_lifetime_s", "", 5...300) { commandLifetime = .seconds(v) }
        if let v = try string(root, "log_level", "") { logLevel = v }
        if let v = try int(root, "ingest_workers", "", 1...16) { ingestWorkers = v }
        if let v = try int(root, "support_bundle_retention_days", "", 1...3650) {
            supportBundleRetention = .seconds(v * 86_400)
        }
    }

    /// `WARDEN_DB_HOST`, `WARDEN_DB_PORT`, `WARDEN_DB_USER`, `WARDEN_DB_PASSWORD`, `WARDEN_DB_NAME`,
    /// `WARDEN_BROKER` (host:port), `WARDEN_BROKER_USERNAME`, `WARDEN_BROKER_PASSWORD`, `WARDEN_AUTHORITY_KEY`,
    /// `WARDEN_AUTHORITY_KID`, `WARDEN_INSTANCE`, `WARDEN_HTTP` (host:port): each overrides the file.
    mutating func apply(environment env: [String: String]) throws(CloudError) {
        func port(_ name: String, _ v: String) throws(CloudError) -> Int {
            guard let p = Int(v), (1...65535).contains(p) else {
                throw CloudError(.config, "\(name)='\(v)' is not a port")
            }
            return p
        }
        if let v = env["WARDEN_DB_HOST"] { database.host = v }
        if let v = env["WARDEN_DB_PORT"] { database.port = try port("WARDEN_DB_PORT", v) }
        if let v = env["WARDEN_DB_USER"] { database.user = v }
        if let v = env["WARDEN_DB_PASSWORD"] { database.password = v }
        if let v = env["WARDEN_DB_NAME"] { database.name = v }
        if let v = env["WARDEN_BROKER"] {
            let parts = v.split(separator: ":")
            guard parts.count == 2 else { throw CloudError(.config, "WARDEN_BROKER='\(v)' is not HOST:PORT") }
            broker.host = String(parts[0])
            broker.port = try port("WARDEN_BROKER", String(parts[1]))
        }
        if let v = env["WARDEN_BROKER_USERNAME"] { broker.username = v }
        if let v = env["WARDEN_BROKER_PASSWORD"] { broker.password = v }
        if let v = env["WARDEN_AUTHORITY_KEY"] { authorityKeyFile = v }
        if let v = env["WARDEN_AUTHORITY_KID"] { authorityKeyID = v }
        if let v = env["WARDEN_INSTANCE"] { instance = v }
        if let v = env["WARDEN_HTTP"] {
            let parts = v.split(separator: ":")
            guard parts.count == 2, !parts[0].isEmpty, let p = Int(parts[1]), (0...65535).contains(p) else {
                throw CloudError(.config, "WARDEN_HTTP='\(v)' is not HOST:PORT")
            }
            http = HTTP(host: String(parts[0]), port: p)
        }
    }

    func validate() throws(CloudError) {
        guard !authorityKeyFile.isEmpty, !authorityKeyID.isEmpty else {
            throw CloudError(
                .config,
                "authority.key and authority.kid are required (or WARDEN_AUTHORITY_KEY and WARDEN_AUTHORITY_KID)"
            )
        }
        guard !instance.isEmpty, instance.utf8.count <= 40 else {
            throw CloudError(.config, "instance '\(instance)' must be 1-40 characters")
        }
        guard ["trace", "debug", "info", "notice", "warning", "error", "critical"].contains(logLevel) else {
            throw CloudError(
                .config,
                "log_level '\(logLevel)' is not one of trace, debug, info, notice, warning, error, critical"
            )
        }
        if (broker.certFile == nil) != (broker.keyFile == nil) {
            throw CloudError(.config, "broker.cert and broker.key go together")
        }
    }
}
