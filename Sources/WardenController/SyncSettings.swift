import Foundation

/// `sync:` in warden.yaml: how the board reaches the cloud over MQTT (docs/mqtt.md). Absent: the board runs
/// stand-alone (everything local still works; nothing leaves it).
public struct SyncSettings: Sendable, Equatable {
    public var org: String
    public var host: String
    public var port: Int
    /// The broker's CA (the board pins it: no system trust store); nil = plain TCP (tests and labs only).
    public var caFile: String?
    /// The board's client certificate and key (mutual TLS; the certificate's subject is the device id).
    public var certFile: String?
    public var keyFile: String?
    /// Renew the client certificate this long before it ends (default: once a third of its life is left).
    public var renewBefore: TimeInterval?
    /// Per-device broker password (when the broker does not use client certificates).
    public var username: String?
    public var passwordFile: String?
    public var keepAlive: Duration = .seconds(30)
    /// How long an audit batch may wait for the cloud's acknowledgement before it is re-sent (doubling, up to 5 min).
    public var ackTimeout: Duration = .seconds(30)
    /// How often the board publishes its state even when nothing changed.
    public var stateInterval: Duration = .seconds(300)
}

extension SyncSettings {
    static func parse(_ m: YAMLMapping, resolve: (String) -> String) throws(ConfigError) -> SyncSettings {
        let org = try m.string("org")
        guard !org.isEmpty, org.utf8.count <= 64,
            org.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D })
        else { throw m.fail("org", "'\(org)' is not an org id: use 1-64 of a-z, 0-9 and '-'") }
        let broker = try m.string("broker")
        let parts = broker.split(separator: ":")
        guard parts.count == 2, let port = Int(parts[1]), (1...65535).contains(port), !parts[0].isEmpty else {
            throw m.fail("broker", "'\(broker)' is not HOST:PORT (e.g. mqtt.example.com:8883)")
        }
        var s = SyncSettings(org: org, host: String(parts[0]), port: port)
        if let tls = try m.optionalMapping("tls", allowed: ["ca", "cert", "key", "renew_before_s"]) {
            s.caFile = resolve(try tls.string("ca"))
            s.certFile = try tls.optionalString("cert").map(resolve)
            s.keyFile = try tls.optionalString("key").map(resolve)
            if tls.has("renew_before_s") {
                s.renewBefore = TimeInterval(try tls.int("renew_before_s", in: 60...315_360_000))
            }
            guard (s.certFile == nil) == (s.keyFile == nil) else {
                throw tls.fail(s.certFile == nil ? "cert" : "key", "give both cert and key, or neither")
            }
            for (key, path) in [("ca", s.caFile), ("cert", s.certFile), ("key", s.keyFile)] {
                guard let path else { continue }
                guard FileManager.default.isReadableFile(atPath: path) else {
                    throw tls.fail(key, "cannot read \(path)")
                }
            }
            if let key = s.keyFile,
                let mode = (try? FileManager.default.attributesOfItem(atPath: key))?[.posixPermissions]
                    as? Int, mode & 0o077 != 0
            {
                throw tls.fail(
                    "key",
                    "\(key) is readable by others (mode \(String(mode, radix: 8))); run chmod 600 on it"
                )
            }
        }
        s.username = try m.optionalString("username")
        s.passwordFile = try m.optionalString("password_file").map(resolve)
        if let p = s.passwordFile {
            guard FileManager.default.isReadableFile(atPath: p) else {
                throw m.fail("password_file", "cannot read \(p)")
            }
            if let mode = (try? FileManager.default.attributesOfItem(atPath: p))?[.posixPermissions] as? Int,
                mode & 0o077 != 0
            {
                throw m.fail(
                    "password_file",
                    "\(p) is readable by others (mode \(String(mode, radix: 8))); run chmod 600 on it"
                )
            }
            guard s.username != nil else { throw m.fail("username", "a password_file needs a username") }
        }
        s.keepAlive = .seconds(try m.int("keepalive_s", in: 5...600, default: 30))
        s.ackTimeout = .milliseconds(try m.int("ack_timeout_ms", in: 100...600_000, default: 30_000))
        s.stateInterval = .seconds(try m.int("state_interval_s", in: 1...86_400, default: 300))
        return s
    }

    /// The password, read when connecting (never kept in the config value, never logged).
    public func password() throws(ConfigError) -> String? {
        guard let passwordFile else { return nil }
        do {
            return try String(contentsOfFile: passwordFile, encoding: .utf8).trimmingCharacters(
                in: .whitespacesAndNewlines
            )
        } catch {
            throw ConfigError(
                file: passwordFile,
                key: "sync.password_file",
                message: "cannot read: \(error.localizedDescription)"
            )
        }
    }
}
