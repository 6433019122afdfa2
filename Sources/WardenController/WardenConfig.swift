import Crypto
import Foundation
import WardenCore
import WardenProtocol
import WardenStore
import WardenWire
import Yams

/// /etc/warden/warden.yaml: which door this board is, its board profile, the site calendar, the authority keys it
/// trusts, and where state lives. Parsed strictly like board profiles (provisioning/warden.yaml is the sample).
public struct WardenConfig: Sendable {
    public var file: String
    public var doorID: String
    public var lockID: String
    public var doorGroups: Set<String>
    public var boardPath: String
    public var calendar: SiteCalendar
    public var passageSchedule: WeeklySchedule?
    public var authorityKeyFiles: [String: String]
    public var authority: AuthorityKeySet
    public var stateDir: String
    public var controlSocket: String
    public var requireListed: Bool
    public var unknownTimePolicy: TrustedTime.UnknownTimePolicy
    /// `time.max_forward_jump_s`: a clock further ahead of the high-water mark is unconfirmed (docs/time.md).
    public var maxForwardJump: TimeInterval = 86_400
    public var retention: AuditJournal.Retention
    public var logLevel: String
    /// The lock's identity for the key-presentation protocol; nil = not provisioned (BLE/dev presentations off).
    public var identity: LockIdentity?
    public var presentation: PresentationSettings
    /// MQTT sync with the cloud; nil = stand-alone.
    public var sync: SyncSettings?
    /// Prometheus metrics written to a text file (node_exporter's textfile collector reads it); nil = none.
    public var metrics: MetricsSettings?
    /// The installed version, the update order and the updater's report (docs/updates.md).
    public var software = SoftwareFiles(controlSocket: "/run/warden/control.sock")

    public struct LockIdentity: Sendable {
        public var deviceKey: P256.Signing.PrivateKey
        public var certificate: LockCertificate
        public var deviceKeyPath: String
    }

    public struct PresentationSettings: Sendable, Equatable {
        public var ble = true
        public var blePSM = 0x0081
        /// The controller to advertise on (`hci0`); nil: the lowest-numbered powered one.
        public var bleAdapter: String?
        public var unixPath: String?
        public var tcpHost: String?
        public var tcpPort: Int?
        public var maxSessions = 4
        public var sessionTimeout: Duration = .seconds(5)
        /// Failed presentations from one peer within a minute before it must wait `backoff`.
        public var maxFailures = 5
        public var backoff: Duration = .seconds(30)
        /// Failed presentations within a minute from all peers together before the lock admits only one new session
        /// per second (BLE addresses rotate, so per-peer limits alone do not stop a flood).
        public var maxGlobalFailures = 60
    }

    public var databasePath: String { (stateDir as NSString).appendingPathComponent("warden.sqlite") }

    public static func load(path: String) throws(ConfigError) -> WardenConfig {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw ConfigError(file: path, key: "", message: "cannot read the config: \(error.localizedDescription)")
        }
        return try parse(text, file: path)
    }

    /// Only the config's `board` (resolved like `load` does), for `wardenctl relay-safe`: the safe state must not
    /// depend on the rest of the config being valid (a missing key, a bad certificate, an unknown key).
    public static func boardPath(ofConfigAt path: String) throws(ConfigError) -> String {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw ConfigError(
                file: path,
                key: "board",
                message: "cannot read the config: \(error.localizedDescription); give --board PROFILE"
            )
        }
        guard let node = try? Yams.compose(yaml: text), let board = node.mapping?["board"]?.string, !board.isEmpty
        else {
            throw ConfigError(
                file: path,
                key: "board",
                message: "no readable `board:` in the config; give --board PROFILE"
            )
        }
        let dir = (path as NSString).deletingLastPathComponent
        return board.hasPrefix("/") ? board : (dir as NSString).appendingPathComponent(board)
    }

    public static func parse(_ text: String, file: String) throws(ConfigError) -> WardenConfig {
        let top = try YAMLMapping.parse(
            file: file,
            text: text,
            allowed: [
                "door", "board", "site", "authority_keys", "state_dir", "control_socket", "access", "time", "audit",
                "log_level", "identity", "presentation", "sync", "metrics", "software",
            ]
        )
        let dir = (file as NSString).deletingLastPathComponent
        func resolve(_ p: String) -> String { p.hasPrefix("/") ? p : (dir as NSString).appendingPathComponent(p) }

        let door = try top.mapping("door", allowed: ["id", "lock_id", "groups"])
        let site = try top.mapping("site", allowed: ["time_zone", "holidays", "passage_schedule"])
        let tz = try site.string("time_zone")
        let holidays = try site.strings("holidays")
        let calendar: SiteCalendar
        do { calendar = try SiteCalendar(timeZoneIdentifier: tz, holidays: Set(holidays)) } catch {
            throw site.fail(
                holidays.isEmpty ? "time_zone" : (TimeZone(identifier: tz) == nil ? "time_zone" : "holidays"),
                error.message
            )
        }
        var passage: WeeklySchedule?
        if site.has("passage_schedule") {
            passage = try parseSchedule(site, key: "passage_schedule")
        }
        let keyFiles = try top.stringMap("authority_keys")
        guard !keyFiles.isEmpty else {
            throw top.fail(
                "authority_keys",
                "at least one authority key (key id: PEM file) is required; without one no key can open the door"
            )
        }
        var pems: [String: String] = [:]
        for (kid, f) in keyFiles {
            let p = resolve(f)
            guard let pem = try? String(contentsOfFile: p, encoding: .utf8) else {
                throw top.fail("authority_keys", "key '\(kid)': cannot read \(p)")
            }
            pems[kid] = pem
        }
        let authority: AuthorityKeySet
        do { authority = try AuthorityKeySet(pems: pems) } catch { throw top.fail("authority_keys", error.message) }

        let access = try top.optionalMapping("access", allowed: ["require_listed"])
        let time = try top.optionalMapping("time", allowed: ["unknown_policy", "max_forward_jump_s"])
        let audit = try top.optionalMapping("audit", allowed: ["max_records", "max_age_days", "hard_max_records"])
        let defaults = AuditJournal.Retention()
        let retention = AuditJournal.Retention(
            maxRecords: try audit?.int("max_records", in: 100...100_000_000, default: defaults.maxRecords)
                ?? defaults.maxRecords,
            maxAge: TimeInterval(try audit?.int("max_age_days", in: 1...3650, default: 90) ?? 90) * 86_400,
            hardMax: try audit?.int("hard_max_records", in: 1000...200_000_000, default: defaults.hardMax)
                ?? defaults.hardMax
        )
        guard retention.hardMax > retention.maxRecords else {
            throw audit!.fail(
                "hard_max_records",
                "\(retention.hardMax) must be larger than max_records (\(retention.maxRecords))"
            )
        }
        let level = try top.string("log_level", default: "info")
        guard ["trace", "debug", "info", "notice", "warning", "error", "critical"].contains(level) else {
            throw top.fail("log_level", "'\(level)' is not one of trace, debug, info, notice, warning, error, critical")
        }
        var identity: LockIdentity?
        if let id = try top.optionalMapping("identity", allowed: ["device_key", "lock_certificate"]) {
            let keyPath = resolve(try id.string("device_key"))
            guard let attrs = try? FileManager.default.attributesOfItem(atPath: keyPath),
                let pem = try? String(contentsOfFile: keyPath, encoding: .utf8)
            else {
                throw id.fail("device_key", "cannot read \(keyPath)")
            }
            if let mode = attrs[.posixPermissions] as? Int, mode & 0o077 != 0 {
                throw id.fail(
                    "device_key",
                    "\(keyPath) is readable by others (mode \(String(mode, radix: 8))); run chmod 600 on it"
                )
            }
            guard let key = try? P256.Signing.PrivateKey(pemRepresentation: pem) else {
                throw id.fail("device_key", "\(keyPath) is not a P-256 private key in PEM form")
            }
            let certPath = resolve(try id.string("lock_certificate"))
            guard let text = try? String(contentsOfFile: certPath, encoding: .utf8),
                let raw = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)),
                let cert = try? LockCertificate.parse(Array(raw))
            else { throw id.fail("lock_certificate", "\(certPath) is not a base64 Warden lock certificate") }
            guard cert.deviceKey.rawRepresentation == key.publicKey.rawRepresentation else {
                throw id.fail("lock_certificate", "the certificate is for another device key than \(keyPath)")
            }
            guard cert.lockID == (try door.string("lock_id")) else {
                throw id.fail(
                    "lock_certificate",
                    "the certificate is for lock '\(cert.lockID)', this door is '\(try door.string("lock_id"))'"
                )
            }
            identity = LockIdentity(deviceKey: key, certificate: cert, deviceKeyPath: keyPath)
        }
        var presentation = PresentationSettings()
        if let p = try top.optionalMapping(
            "presentation",
            allowed: [
                "ble", "ble_psm", "ble_adapter", "unix", "tcp", "max_sessions", "session_timeout_ms",
                "max_failures_per_minute", "max_failures_global_per_minute", "backoff_s",
            ]
        ) {
            presentation.ble = try p.bool("ble", default: true)
            presentation.blePSM = try p.int("ble_psm", in: 0x80...0xFF, default: 0x81)
            if let adapter = try p.optionalString("ble_adapter") {
                guard adapter.hasPrefix("hci"), let n = Int(adapter.dropFirst(3)), (0...15).contains(n),
                    adapter == "hci\(n)"
                else {
                    throw p.fail(
                        "ble_adapter",
                        "'\(adapter)' is not a controller name like hci0 (see `hciconfig` or `bluetoothctl list`)"
                    )
                }
                presentation.bleAdapter = adapter
            }
            presentation.unixPath = try p.optionalString("unix").map(resolve)
            if let tcp = try p.optionalString("tcp") {
                let parts = tcp.split(separator: ":")
                guard parts.count == 2, let port = Int(parts[1]), (0...65535).contains(port) else {
                    throw p.fail("tcp", "'\(tcp)' is not HOST:PORT (e.g. 127.0.0.1:7420)")
                }
                presentation.tcpHost = String(parts[0])
                presentation.tcpPort = port
            }
            presentation.maxSessions = try p.int("max_sessions", in: 1...64, default: 4)
            presentation.sessionTimeout = .milliseconds(
                try p.int("session_timeout_ms", in: 500...60_000, default: 5000)
            )
            presentation.maxFailures = try p.int("max_failures_per_minute", in: 1...10_000, default: 5)
            presentation.backoff = .seconds(try p.int("backoff_s", in: 1...3600, default: 30))
            presentation.maxGlobalFailures = try p.int("max_failures_global_per_minute", in: 1...100_000, default: 60)
        }
        var config = WardenConfig(
            file: file,
            doorID: try door.string("id"),
            lockID: try door.string("lock_id"),
            doorGroups: Set(try door.strings("groups")),
            boardPath: resolve(try top.string("board")),
            calendar: calendar,
            passageSchedule: passage,
            authorityKeyFiles: keyFiles,
            authority: authority,
            stateDir: resolve(try top.string("state_dir", default: "/var/lib/warden")),
            controlSocket: resolve(try top.string("control_socket", default: "/run/warden/control.sock")),
            requireListed: try access?.bool("require_listed", default: false) ?? false,
            unknownTimePolicy: try time?.oneOf(
                "unknown_policy",
                TrustedTime.UnknownTimePolicy.self,
                all: [.deny, .highWaterMark],
                default: .deny
            ) ?? .deny,
            retention: retention,
            logLevel: level,
            identity: identity,
            presentation: presentation
        )
        if let m = try top.optionalMapping(
            "sync",
            allowed: [
                "org", "broker", "tls", "username", "password_file", "keepalive_s", "ack_timeout_ms",
                "state_interval_s",
            ]
        ) {
            config.sync = try SyncSettings.parse(m, resolve: resolve)
        }
        if let m = try top.optionalMapping("metrics", allowed: ["text_file", "interval_s"]) {
            config.metrics = MetricsSettings(
                textFile: resolve(try m.string("text_file")),
                interval: .seconds(try m.int("interval_s", in: 1...3600, default: 15))
            )
        }
        config.software = SoftwareFiles(controlSocket: config.controlSocket)
        if let m = try top.optionalMapping(
            "software",
            allowed: ["version_file", "update_order", "update_report", "support_order"]
        ) {
            if let v = try m.optionalString("version_file") { config.software.versionFile = resolve(v) }
            if let v = try m.optionalString("update_order") { config.software.updateOrder = resolve(v) }
            if let v = try m.optionalString("update_report") { config.software.updateReport = resolve(v) }
            if let v = try m.optionalString("support_order") { config.software.supportOrder = resolve(v) }
        }
        config.maxForwardJump = TimeInterval(
            try time?.int("max_forward_jump_s", in: 60...31_536_000, default: 86_400) ?? 86_400
        )
        return config
    }

    static func parseSchedule(_ parent: YAMLMapping, key: String) throws(ConfigError) -> WeeklySchedule {
        guard let seq = parent.node.mapping?[key]?.sequence else {
            throw parent.fail(key, "expected a list of windows")
        }
        var windows: [ScheduleWindow] = []
        for (i, item) in seq.enumerated() {
            let w = try YAMLMapping(
                file: parent.file,
                path: "\(YAMLMapping.join(parent.path, key))[\(i)]",
                node: item,
                allowed: ["days", "start", "end"]
            )
            var days: [Weekday] = []
            for d in try w.strings("days") {
                guard let day = Weekday(rawValue: d) else {
                    throw w.fail(
                        "days",
                        "'\(d)' is not one of \(Weekday.allCases.map(\.rawValue).joined(separator: ", "))"
                    )
                }
                days.append(day)
            }
            guard !days.isEmpty else { throw w.fail("days", "list at least one day") }
            do {
                windows.append(
                    ScheduleWindow(
                        days: days,
                        start: try LocalTime(parsing: try w.string("start")),
                        end: try LocalTime(parsing: try w.string("end"))
                    )
                )
            } catch let e as ScheduleError {
                throw w.fail("start", e.message)
            } catch let e as ConfigError { throw e } catch { throw w.fail("start", "\(error)") }
        }
        return WeeklySchedule(windows: windows)
    }
}
