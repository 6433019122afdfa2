import ArgumentParser
import Foundation
import SwiftASN1
import WardenController
import WardenWire
import X509

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `wardenctl support-bundle`: what a support engineer asks for first, in one archive: versions, the config with
/// secrets removed, `doctor` (without a pulse), recent logs, the journal's head and chain, wardend's and the MQTT
/// link's state. Private keys and password files are never copied; every text goes through `SupportRedactor`,
/// which also knows those files' contents and blanks them wherever they appear. Each part that cannot be collected
/// says why in `MANIFEST.txt` instead of failing the bundle: a broken board is when a bundle matters most.
struct SupportBundleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "support-bundle",
        abstract: "Collect versions, redacted config, doctor, logs, journal and link state into one archive."
    )
    @Option(help: "wardend's config.") var config = "/etc/warden/warden.yaml"
    @Option(help: "The archive to write (default: ./warden-support-LOCK-TIME.tar.gz).") var out: String?
    @Option(help: "Log lines to include.") var logLines = 2000
    @Option(help: "wardend's log file, when it does not log to the systemd journal.") var logFile: String?
    @Option(help: "Journal records to include (the newest).") var journalRecords = 200
    @Option(
        help: """
            A request from the cloud that wardend verified and handed over (warden-support.service passes it): \
            checked again, answered once (the file is removed), the bundle uploaded to the URL the signed command names.
            """
    )
    var order: String?

    func validate() throws {
        guard (1...100_000).contains(logLines) else { throw ValidationError("--log-lines must be 1...100000") }
        guard (1...100_000).contains(journalRecords) else {
            throw ValidationError("--journal-records must be 1...100000")
        }
    }

    func run() async throws {
        if let order {
            try await answer(order: order)
            return
        }
        let archive = try collect(out: out)
        print("support bundle: \(archive)")
    }

    /// The cloud asked (a signed `support_bundle` command): collect into a private temporary folder and upload.
    /// Expiry was checked by wardend on trusted time; the cloud refuses a late or second upload by itself.
    func answer(order path: String) async throws {
        guard let cfg = try? WardenConfig.load(path: config) else {
            throw CLIError("the config \(config) does not load: a requested bundle needs it to check the request")
        }
        guard let bytes = FileManager.default.contents(atPath: path) else {
            throw CLIError("no support-bundle request in \(path)")
        }
        unlink(path)  // answered once, whatever happens next: the manager asks again after a failure
        let command: SignedCommand
        do {
            let handed = try WireJSON.decode(HandedCommand.self, from: Array(bytes), what: "support-bundle request")
            command = try SignedCommand.verified(handed.token, authority: cfg.authority)
        } catch { throw CLIError("the support-bundle request in \(path) does not verify: \(error)") }
        guard command.cmd == .supportBundle, command.dev == cfg.lockID, let url = command.url,
            SignedCommand.isUploadURL(url), let target = URL(string: url), let token = command.tok
        else { throw CLIError("the request in \(path) is not a support-bundle request for \(cfg.lockID)") }

        let work = FileManager.default.temporaryDirectory.appendingPathComponent("warden-support-upload-\(getpid())")
        try FileManager.default.createDirectory(
            at: work,
            withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700]
        )
        defer { try? FileManager.default.removeItem(at: work) }
        let archive = try collect(out: work.appendingPathComponent("bundle.tar.gz").path)
        guard let body = FileManager.default.contents(atPath: archive) else { throw CLIError("cannot read \(archive)") }
        var request = URLRequest(url: target, timeoutInterval: 120)
        request.httpMethod = "POST"
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        request.setValue("application/gzip", forHTTPHeaderField: "Content-Type")
        let data: Data
        let response: URLResponse
        do { (data, response) = try await URLSession.shared.upload(for: request, from: body) } catch {
            throw CLIError("cannot upload the bundle to \(url): \(error.localizedDescription)")
        }
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        guard status == 201 else {
            let problem = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
            let detail = problem?["detail"] as? String ?? String(decoding: data.prefix(300), as: UTF8.self)
            throw CLIError("the cloud refused the bundle (\(status)): \(detail)")
        }
        let id = ((try? JSONSerialization.jsonObject(with: data)) as? [String: Any])?["id"] as? String
        print("support bundle \(id ?? "?") uploaded: \(body.count) bytes to \(url) (command \(command.jti))")
    }

    /// Collects the parts and writes the archive (owner-only); returns its path.
    func collect(out: String?) throws -> String {
        let cfg = try? WardenConfig.load(path: config)
        let stamp = Self.stamp(Date())
        let name = "warden-support-\(cfg?.lockID ?? "board")-\(stamp)"
        let archive = out ?? FileManager.default.currentDirectoryPath + "/\(name).tar.gz"
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(getpid())")
        let dir = work.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }

        let redactor = SupportRedactor(knownSecrets: Self.secrets(cfg, configPath: config))
        var manifest: [String] = ["Warden support bundle \(name)", "created \(Self.iso(Date()))", ""]
        func put(_ file: String, _ collect: () -> Result<String, CLIError>) {
            switch collect() {
            case .success(let text):
                let path = dir.appendingPathComponent(file)
                try? FileManager.default.createDirectory(
                    at: path.deletingLastPathComponent(),
                    withIntermediateDirectories: true
                )
                if FileManager.default.createFile(atPath: path.path, contents: Data(redactor.redact(text).utf8)) {
                    manifest.append("ok       \(file)")
                } else {
                    manifest.append("missing  \(file): cannot write \(path.path)")
                }
            case .failure(let e):
                manifest.append("missing  \(file): \(redactor.redact(e.description))")
            }
        }

        put("versions.txt") { .success(Self.versions()) }
        put("config/warden.yaml") { Self.read(config) }
        if let cfg {
            put("config/board.yaml") { Self.read(cfg.boardPath) }
            let record = ((config as NSString).deletingLastPathComponent as NSString)
                .appendingPathComponent("provisioned.json")
            if FileManager.default.fileExists(atPath: record) { put("config/provisioned.json") { Self.read(record) } }
            put("keys.txt") { .success(Self.keyListing(cfg, configPath: config)) }
        } else {
            manifest.append("note     the config does not load: the parts that need it are left out (see doctor.txt)")
        }
        put("doctor.txt") { Self.selfRun(["doctor", "--no-pulse", "--config", config]) }
        if let cfg {
            put("status.json") { Self.selfRun(["status", "--json", "--socket", cfg.controlSocket], mustSucceed: true) }
            put("mqtt.txt") { .success(Self.mqtt(cfg)) }
            let db = (cfg.stateDir as NSString).appendingPathComponent("warden.sqlite")
            put("journal.txt") { Self.journal(db: db, records: journalRecords) }
        }
        put("logs.txt") { Self.logs(lines: logLines, file: logFile) }
        try Data((manifest.joined(separator: "\n") + "\n").utf8).write(to: dir.appendingPathComponent("MANIFEST.txt"))

        // The archive is created owner-only: it holds the board's layout and identity, if no secret.
        let tmp = archive + ".tmp"
        unlink(tmp)
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw CLIError("cannot create \(tmp): \(String(cString: strerror(errno)))") }
        close(fd)
        do {
            try SystemCommand.run("/bin/tar", ["-czf", tmp, "-C", work.path, name], what: "packing the bundle")
        } catch {
            unlink(tmp)
            throw error
        }
        guard rename(tmp, archive) == 0 else { throw CLIError("cannot write \(archive)") }
        for line in manifest.dropFirst(3) { print(line) }
        return archive
    }

    // MARK: Parts

    static func versions() -> String {
        var lines: [String] = []
        let version = (try? String(contentsOfFile: "/usr/share/warden/version", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
        lines.append("warden-board \(version ?? "(not installed from a package: no /usr/share/warden/version)")")
        var u = utsname()
        uname(&u)
        func field<T>(_ v: T) -> String {
            withUnsafeBytes(of: v) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        }
        lines.append("kernel \(field(u.sysname)) \(field(u.release)) \(field(u.version)) \(field(u.machine))")
        if let os = try? String(contentsOfFile: "/etc/os-release", encoding: .utf8),
            let pretty = os.split(separator: "\n").first(where: { $0.hasPrefix("PRETTY_NAME=") })
        {
            lines.append("os \(pretty.dropFirst(12).trimmingCharacters(in: CharacterSet(charactersIn: "\"")))")
        }
        let packages = ["warden-board", "libgpiod2", "libmosquitto1", "libssl3", "libsqlite3-0", "bluez", "systemd"]
        lines.append("packages:")
        for p in packages {
            let v = try? SystemCommand.run(
                "/usr/bin/dpkg-query",
                ["-W", "-f", "${Version} ${db:Status-Abbrev}", p],
                what: "dpkg-query"
            )
            lines.append("  \(p) \(v ?? "not installed")")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The key folder as a listing (name, mode, owner, size) and the certificates' public facts; no contents.
    static func keyListing(_ cfg: WardenConfig, configPath: String) -> String {
        let keys = ((configPath as NSString).deletingLastPathComponent as NSString).appendingPathComponent("keys")
        var paths = Set(((try? FileManager.default.contentsOfDirectory(atPath: keys)) ?? []).map { "\(keys)/\($0)" })
        for p in [
            cfg.identity?.deviceKeyPath, cfg.sync?.keyFile, cfg.sync?.certFile, cfg.sync?.caFile,
            cfg.sync?.passwordFile,
        ] {
            if let p { paths.insert(p) }
        }
        var lines = ["files (contents never included):"]
        for p in paths.sorted() {
            guard let a = try? FileManager.default.attributesOfItem(atPath: p) else {
                lines.append("  \(p): missing")
                continue
            }
            let mode = String((a[.posixPermissions] as? Int) ?? 0, radix: 8)
            lines.append(
                "  \(p): mode \(mode) uid \((a[.ownerAccountID] as? Int).map(String.init) ?? "?") \((a[.size] as? Int) ?? 0) bytes"
            )
            if let text = try? String(contentsOfFile: p, encoding: .utf8), text.contains("BEGIN CERTIFICATE"),
                let c = try? Certificate(pemEncoded: text)
            {
                lines.append(
                    "    certificate \(c.subject), issued by \(c.issuer), serial \(c.serialNumber), valid \(iso(c.notValidBefore)) to \(iso(c.notValidAfter))"
                )
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func mqtt(_ cfg: WardenConfig) -> String {
        guard let s = cfg.sync else { return "no sync section: the board runs stand-alone\n" }
        var lines = ["broker \(s.host):\(s.port)", "org \(s.org)"]
        lines.append(s.certFile != nil ? "auth: device certificate \(s.certFile ?? "")" : "auth: none or password")
        if let u = s.username { lines.append("username \(u)") }
        lines.append("(the live link state is in status.json, and doctor.txt's broker check)")
        return lines.joined(separator: "\n") + "\n"
    }

    static func journal(db: String, records: Int) -> Result<String, CLIError> {
        guard FileManager.default.fileExists(atPath: db) else { return .failure(CLIError("no journal at \(db)")) }
        let verify = selfRun(["audit", "verify", "--db", db])
        let report = (try? verify.get()) ?? "chain check failed: \(verify)"
        // "audit chain ok: N records, seq A...B": list from B - records.
        var after = 0
        if let range = report.firstMatch(of: #/seq (\d+)\.\.\.(\d+)/#), let last = Int(range.output.2) {
            after = max(0, last - records)
        }
        let list = selfRun(["audit", "list", "--db", db, "--after", "\(after)", "--limit", "\(records)"])
        return .success(
            "== chain\n\(report)\n== the newest \(records) records\n\((try? list.get()) ?? "cannot list: \(list)")"
        )
    }

    static func logs(lines: Int, file: String?) -> Result<String, CLIError> {
        if let file {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                return .failure(CLIError("cannot read \(file)"))
            }
            return .success(
                text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
            )
        }
        let journalctl = "/usr/bin/journalctl"
        guard FileManager.default.isExecutableFile(atPath: journalctl) else {
            return .failure(CLIError("no systemd journal here and no --log-file given"))
        }
        do {
            return .success(
                try SystemCommand.run(
                    journalctl,
                    ["-u", "wardend", "-u", "warden-updater", "-n", "\(lines)", "--no-pager", "-o", "short-iso"],
                    what: "journalctl"
                )
            )
        } catch let e as CLIError { return .failure(e) } catch { return .failure(CLIError("\(error)")) }
    }

    // MARK: Helpers

    /// What the board holds that must never leave it: the private keys and password files the config names, and
    /// every file in the keys folder that is not a certificate.
    static func secrets(_ cfg: WardenConfig?, configPath: String) -> [String] {
        let keys = ((configPath as NSString).deletingLastPathComponent as NSString).appendingPathComponent("keys")
        var files = ((try? FileManager.default.contentsOfDirectory(atPath: keys)) ?? []).map { "\(keys)/\($0)" }
        files += [cfg?.identity?.deviceKeyPath, cfg?.sync?.keyFile, cfg?.sync?.passwordFile].compactMap { $0 }
        return files.compactMap { try? String(contentsOfFile: $0, encoding: .utf8) }
            .filter { !$0.contains("BEGIN CERTIFICATE") && !$0.contains("BEGIN PUBLIC KEY") }
    }

    static func read(_ path: String) -> Result<String, CLIError> {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            return .failure(CLIError("cannot read \(path)"))
        }
        return .success(text)
    }

    /// Runs this wardenctl with `arguments`: its output, with the exit status when it failed (a failing doctor is
    /// itself the news, so it is kept unless `mustSucceed`).
    static func selfRun(_ arguments: [String], mustSucceed: Bool = false) -> Result<String, CLIError> {
        let exe =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        guard let r = Subprocess.run(exe, arguments) else { return .failure(CLIError("cannot run \(exe)")) }
        let out = r.output
        if r.status != 0 {
            if mustSucceed {
                return .failure(CLIError("wardenctl \(arguments[0]) exited \(r.status): \(out)"))
            }
            return .success(out + "(wardenctl \(arguments.joined(separator: " ")) exited \(r.status))\n")
        }
        return .success(out)
    }

    static func stamp(_ d: Date) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        return f.string(from: d)
    }

    static func iso(_ d: Date) -> String { ISO8601DateFormatter().string(from: d) }
}
