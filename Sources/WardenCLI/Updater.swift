import Foundation
import Logging
import WardenController
import WardenWire

/// warden-updater's steps for one order (docs/updates.md): verify it again (the order file is a hand-over, not a
/// credential), keep the running version's package for a rollback, download the target through the pinned and
/// signed apt source, wait for `UpdateGate`, install, check health, and roll back from the kept package when the new
/// version does not come back healthy. Every step is reported in the update report wardend publishes.
struct Updater {
    let config: WardenConfig
    let gate: UpdateGate
    let healthTimeout: Duration
    let settle: Duration
    let poll: Duration
    var logger = Logger(label: "warden.updater")
    static let package = "warden-board"
    static let archives = "/var/cache/apt/archives"

    private var order: (command: SignedCommand, target: String)?
    private var previous: String?
    private var lastReport: UpdateReport?

    init(config: WardenConfig, gate: UpdateGate, healthTimeout: Duration, settle: Duration, poll: Duration) {
        self.config = config
        self.gate = gate
        self.healthTimeout = healthTimeout
        self.settle = settle
        self.poll = poll
    }

    /// Handles the pending order, if any. True when nothing failed (an installed update, a clean rollback, no order).
    mutating func run() async -> Bool {
        let files = config.software
        guard let pending = files.order() else {
            print("warden-updater: no update order in \(files.updateOrder)")
            return true
        }
        let command: SignedCommand
        do { command = try SignedCommand.verified(pending.token, authority: config.authority) } catch {
            return finish(failed: "the order's signature does not verify: \(error)", jti: "", target: "?")
        }
        guard command.cmd == .update, command.dev == config.lockID, let target = command.ver,
            SignedCommand.isDebianVersion(target)
        else {
            return finish(
                failed: "the order is not an update for \(config.lockID)",
                jti: command.jti,
                target: command.ver ?? "?"
            )
        }
        if let done = files.report(), done.jti == command.jti, done.status.isFinal {
            removeOrder()
            print("warden-updater: order \(command.jti) was already handled (\(done.status.rawValue))")
            return done.status != .failed
        }
        order = (command, target)
        let deadline = pending.received + SignedCommand.maxLifetime(.update)
        previous = Self.dpkgVersion()
        guard let previous else { return finish(failed: "\(Self.package) is not installed from a package here") }
        if previous == target {
            report(.installed, version: target, detail: "already running \(target)")
            removeOrder()
            return true
        }

        // 1. The way back first: the running version's package must be on the board before anything changes.
        report(.waiting, version: previous, detail: "keeping \(previous) for a rollback, downloading \(target)")
        guard let rollback = keepRollbackPackage(previous) else {
            return finish(
                failed:
                    "no package of the running \(previous) to roll back to (not in \(Self.archives), not in the repository): nothing was changed"
            )
        }
        // 2. Download through the pinned, signed source: a package the release key did not sign never gets here.
        if let error = Self.apt(["update"]) { return finish(failed: "apt-get update: \(error)") }
        if let error = Self.apt(["install", "--download-only", "--allow-downgrades", "\(Self.package)=\(target)"]) {
            return finish(failed: "cannot download \(Self.package) \(target): \(error)")
        }
        // 3. Wait for an idle door inside the window.
        var waitingFor = ""
        while true {
            let decision = gate.decide(status: Self.status(config), now: Date())
            guard case .wait(let why) = decision else { break }
            if Int64(Date().timeIntervalSince1970) > deadline {
                return finish(failed: "the order expired while waiting: \(why); nothing was changed")
            }
            if why != waitingFor {
                report(.waiting, version: previous, detail: why)
                waitingFor = why
            }
            try? await Task.sleep(for: poll)
        }
        // 4. Install. The package's postinst restarts wardend; its ExecStopPost drives the relay locked first.
        report(.installing, version: previous, detail: "installing \(target)")
        let installError = Self.apt([
            "install", "--allow-downgrades", "-o", "Dpkg::Options::=--force-confold", "\(Self.package)=\(target)",
        ])
        let problem: String
        if let installError {
            _ = Self.run("/usr/bin/dpkg", ["--configure", "-a"])
            problem = "installing \(target) failed: \(installError)"
        } else if let unhealthy = await health(target) {
            problem = "\(target) is not healthy: \(unhealthy)"
        } else {
            report(.installed, version: target, detail: "\(target) healthy after the restart")
            removeOrder()
            return true
        }
        // 5. Roll back from the kept package.
        logger.error("update failed; rolling back", metadata: ["target": "\(target)", "problem": "\(problem)"])
        if let error = Self.apt(["install", "--allow-downgrades", "-o", "Dpkg::Options::=--force-confold", rollback]) {
            _ = Self.run("/usr/bin/dpkg", ["--configure", "-a"])
            return finish(failed: "\(problem); the rollback to \(previous) failed too: \(error)")
        }
        if let unhealthy = await health(previous) {
            return finish(failed: "\(problem); after the rollback \(previous) is not healthy either: \(unhealthy)")
        }
        report(.rolledBack, version: previous, detail: problem)
        removeOrder()
        return true
    }

    /// Nil when wardend answers READY on `version` within the timeout and stays so for the settle time.
    func health(_ version: String) async -> String? {
        let clock = ContinuousClock()
        let until = clock.now.advanced(by: healthTimeout)
        var last = "not checked"
        while clock.now < until {
            if let problem = UpdateGate.healthy(Self.status(config), version: version) {
                last = problem
                try? await Task.sleep(for: .milliseconds(500))
                continue
            }
            try? await Task.sleep(for: settle)
            if let problem = UpdateGate.healthy(Self.status(config), version: version) {
                return "healthy at first, then \(problem) within \(settle)"
            }
            return nil
        }
        return "\(last) after \(healthTimeout)"
    }

    /// The running version's .deb: from apt's cache, else downloaded into it. Nil when neither has it.
    func keepRollbackPackage(_ version: String) -> String? {
        if let path = Self.cachedPackage(version) { return path }
        _ = Self.run("/usr/bin/apt-get", ["-q", "download", "\(Self.package)=\(version)"], cwd: Self.archives)
        return Self.cachedPackage(version)
    }

    /// warden-board `version`'s .deb in apt's cache (apt writes an epoch's colon as %3a).
    static func cachedPackage(_ version: String) -> String? {
        let name = "\(package)_\(version.replacingOccurrences(of: ":", with: "%3a"))_"
        return ((try? FileManager.default.contentsOfDirectory(atPath: archives)) ?? [])
            .first { $0.hasPrefix(name) && $0.hasSuffix(".deb") }
            .map { "\(archives)/\($0)" }
    }

    // MARK: Reporting

    mutating func report(_ status: UpdateReport.Status, version: String?, detail: String) {
        let r = UpdateReport(
            target: order?.target ?? "?",
            status: status,
            version: version,
            previous: previous,
            detail: detail,
            jti: order?.command.jti ?? "",
            at: Int64(Date().timeIntervalSince1970)
        )
        guard r.status != lastReport?.status || r.detail != lastReport?.detail else { return }
        lastReport = r
        do { try config.software.writeReport(r) } catch {
            logger.error("cannot write the update report", metadata: ["error": "\(error)"])
        }
        Self.tellWardend(config)
        print("warden-updater: \(status.rawValue): \(detail)")
    }

    mutating func finish(failed why: String, jti: String? = nil, target: String? = nil) -> Bool {
        if order == nil, let jti, let target {
            let r = UpdateReport(
                target: target,
                status: .failed,
                version: Self.dpkgVersion(),
                previous: nil,
                detail: why,
                jti: jti,
                at: Int64(Date().timeIntervalSince1970)
            )
            try? config.software.writeReport(r)
            Self.tellWardend(config)
            print("warden-updater: failed: \(why)")
        } else {
            report(.failed, version: Self.dpkgVersion(), detail: why)
        }
        removeOrder()
        return false
    }

    func removeOrder() { unlink(config.software.updateOrder) }

    // MARK: The system

    static func status(_ cfg: WardenConfig) -> ControllerStatus? {
        try? ControlClient(path: cfg.controlSocket).call(ControlRequest(cmd: "status")).status
    }

    /// wardend reads the new report and publishes it at once. Best effort: while wardend restarts nobody answers,
    /// and the wardend that comes up reads the report at its start.
    static func tellWardend(_ cfg: WardenConfig) {
        _ = try? ControlClient(path: cfg.controlSocket).call(ControlRequest(cmd: "update_reported"))
    }

    static func dpkgVersion() -> String? {
        guard let out = run("/usr/bin/dpkg-query", ["-W", "-f", "${Version} ${db:Status-Abbrev}", package]),
            out.status == 0
        else { return nil }
        let parts = out.output.split(separator: " ")
        guard parts.count >= 2, parts[1].hasPrefix("ii") else { return nil }
        return String(parts[0])
    }

    /// Runs apt-get non-interactively; nil on success, else the last lines of its output.
    static func apt(_ arguments: [String]) -> String? {
        let out = run("/usr/bin/apt-get", ["-q", "-y", "-o", "Dpkg::Use-Pty=0"] + arguments)
        guard let out else { return "cannot run apt-get" }
        if out.status == 0 { return nil }
        return out.output.split(separator: "\n").suffix(4).joined(separator: " / ")
    }

    static func run(_ executable: String, _ arguments: [String], cwd: String? = nil) -> (status: Int32, output: String)?
    {
        Subprocess.run(executable, arguments, cwd: cwd, environment: ["DEBIAN_FRONTEND": "noninteractive"])
            .map { ($0.status, $0.output) }
    }
}
