import Crypto
import Foundation
import Logging
import Metrics
import WardenCore
import WardenProtocol
import WardenStore
import WardenWire

/// The door's owner: feeds decisions, input edges and time into `DoorStateMachine` and performs its actions on the
/// hardware and the journal. Every event arrives on this actor, so there is one order of truth; nothing here waits
/// for a disk between a grant and the relay (the journal commits in the background).
public actor DoorController<C: Clock> where C.Duration == Duration {
    public nonisolated let config: WardenConfig
    /// The running package's version (read at start: an upgrade restarts wardend) and warden-updater's last report
    /// (read at start and when the updater says it wrote one), so `status()` reads no file.
    private var software: (version: String?, report: UpdateReport?)
    public let profile: BoardProfile
    private let io: any DoorIO
    private let db: WardenDatabase
    public let journal: AuditJournal
    private let clock: C
    private let start: C.Instant
    private let wallClock: @Sendable () -> Date
    private let logger: Logger

    private var door: DoorStateMachine
    /// Credentials, policy, failure limiter and access list (`AccessService`); acted on and audited here.
    private var access: AccessService
    private var time: TrustedTime
    private var passageOverride: Bool?
    private var timer: Task<Void, Never>?
    private var edgeTask: Task<Void, Never>?
    private var minuteTask: Task<Void, Never>?
    private var watchers: [UUID: AsyncStream<AuditRecord>.Continuation] = [:]
    /// Set when shutdown begins: from then on nothing unlocks (no grant, pulse, passage or relay-unlocking action).
    private var stopped = false
    /// A relock write failed and is being retried: the relay is not reported as locked until one succeeds.
    private var relockPending = false
    private var relockTask: Task<Void, Never>?

    public init(
        config: WardenConfig,
        profile: BoardProfile,
        io: any DoorIO,
        database: WardenDatabase,
        journal: AuditJournal,
        clock: C,
        wallClock: @escaping @Sendable () -> Date = { Date() },
        logger: Logger = Logger(label: "warden.door")
    ) throws(StoreError) {
        self.config = config
        self.software = (config.software.installedVersion(), config.software.report())
        self.profile = profile
        self.io = io
        self.db = database
        self.journal = journal
        self.clock = clock
        self.start = clock.now
        self.wallClock = wallClock
        self.logger = logger
        let inputs = (try? io.readInputs()) ?? [:]
        self.door = DoorStateMachine(
            door: config.doorID,
            timing: profile.timing,
            doorClosed: inputs[.doorContact] ?? true,
            rexActive: inputs[.rex] ?? false,
            tamperActive: inputs[.tamper] ?? false
        )
        self.access = try AccessService(config: config, database: database)
        let mark = Double(try database.meta("time_high_water_mark") ?? "0") ?? 0
        self.time = TrustedTime(
            highWaterMark: Date(timeIntervalSince1970: mark),
            policy: config.unknownTimePolicy,
            maxForwardJump: config.maxForwardJump
        )
    }

    /// Reloads the access list into memory (after a snapshot, or to recover from a failed load); a failure denies
    /// every credential as revoked until a reload works, and is alarmed.
    private func reloadAccessIndex() {
        if let error = access.reloadIndex() { accessListUnavailable(error) }
    }

    private func accessListUnavailable(_ error: any Error) {
        audit(
            AuditEvent(
                .alarm,
                door: config.doorID,
                reason: AlarmReason.accessListUnavailable.rawValue,
                detail: "\(error)"
            )
        )
        logger.error("access list could not be loaded; denying all credentials", metadata: ["error": "\(error)"])
    }

    private var now: Duration { start.duration(to: clock.now) }

    // MARK: lifecycle

    /// Drives the relay to locked, records the start and begins consuming inputs and time.
    public func run() {
        try? io.setRelay(energized: profile.relayEnergized(unlocked: false))
        recordUncleanStop()
        audit(AuditEvent(.daemon, door: config.doorID, reason: "started", detail: "board=\(profile.name)"))
        journal.onWriteFault { [weak self] message in Task { await self?.journalFault(message) } }
        let edges = io.edges
        edgeTask = Task { [weak self] in
            for await e in edges { await self?.edge(e) }
        }
        minuteTask = Task { [weak self, clock] in
            while !Task.isCancelled {
                await self?.everyMinute()
                try? await clock.sleep(for: .seconds(60))
            }
        }
        if config.passageSchedule != nil { evaluatePassageSchedule() }
    }

    /// The previous run ended without its stop record (killed, crashed, power cut): say so, and that the relay was
    /// driven locked at this start, so the journal never shows `relay grant [unlocked]` followed by a bare start.
    private func recordUncleanStop() {
        guard journal.lastSeq > 0, let last = try? journal.records(after: journal.lastSeq - 1, limit: 1).first else {
            return
        }
        if last.event.kind == .daemon && last.event.reason == "stopped" { return }
        let lastWhat = [last.event.kind.rawValue, last.event.reason].compactMap { $0 }.joined(separator: " ")
        audit(
            AuditEvent(
                .daemon,
                door: config.doorID,
                reason: "unclean_stop",
                detail:
                    "the previous run ended without a stop record (last record \(last.seq): \(lastWhat)); relay driven locked at start"
            )
        )
        logger.warning(
            "the previous run did not stop cleanly; the relay was driven locked at start",
            metadata: ["last_seq": "\(last.seq)"]
        )
    }

    /// The journal started or stopped failing to write: alarm once each way (the records wait in its backlog).
    private func journalFault(_ message: String?) {
        if let message {
            logger.error(
                "the audit journal cannot write; records wait in memory (bounded) until it can",
                metadata: ["error": "\(message)"]
            )
            audit(
                AuditEvent(
                    .alarm,
                    door: config.doorID,
                    reason: AlarmReason.journalWriteFailed.rawValue,
                    detail: message
                )
            )
        } else {
            logger.notice("the audit journal writes again")
            audit(AuditEvent(.alarmCleared, door: config.doorID, reason: AlarmReason.journalWriteFailed.rawValue))
        }
    }

    /// Safe state: relay locked, the stop recorded, the journal flushed, the relay locked again. From the first line
    /// on nothing unlocks: the actor is re-entered while the journal flushes, and a grant, pulse or passage change
    /// arriving then is refused (`stopped`), so the relay is driven locked last.
    public func shutdown(reason: String) async {
        guard !stopped else { return }
        stopped = true
        timer?.cancel()
        edgeTask?.cancel()
        minuteTask?.cancel()
        relockTask?.cancel()
        lockRelayNow()
        if door.relayUnlocked || relockPending {
            audit(AuditEvent(.relay, door: config.doorID, reason: "shutdown", detail: "locked"))
        }
        audit(AuditEvent(.daemon, door: config.doorID, reason: "stopped", detail: reason))
        persistMark()
        await journal.flush(timeout: .seconds(5))
        for w in watchers.values { w.finish() }
        lockRelayNow()
    }

    /// Every listener accepts (set by the daemon's watchdog service when it sends READY=1).
    private var ready = false
    public func setReady() { ready = !stopped }

    /// True once shutdown has begun.
    public var isStopping: Bool { stopped }

    /// Writes the locked level directly, bypassing the state machine: the last word on every exit path.
    public nonisolated func lockRelayNow() {
        try? io.setRelay(energized: profile.relayEnergized(unlocked: false))
    }

    // MARK: presentations

    /// A presentation over the key-presentation protocol (BLE or a development transport): the session already
    /// holds the holder's transcript signature; `holderProofValid` checks it against the credential's key.
    /// Returns the decision, the wire result code and how long the door unlocks.
    public func presentOverSession(
        credential token: String,
        holderProofValid: @Sendable (P256.Signing.PublicKey) -> Bool,
        peer: String
    ) -> (AccessDecision, ResultCode, UInt32) {
        guard !stopped else { return (.denied(.shuttingDown, credentialID: nil, userID: nil), .busy, 0) }
        let decision = access.decide(
            token: token,
            holderProofValid: holderProofValid,
            lockdown: door.lockdown,
            at: decisionTime()
        )
        switch decision {
        case .granted(let g):
            _ = act(on: decision, peer: peer)
            access.recordSuccess(peer)
            let pulse = g.extendedTime ? profile.extendedPulse : profile.pulse
            return (
                decision, .granted,
                UInt32(pulse.components.seconds * 1000 + pulse.components.attoseconds / 1_000_000_000_000_000)
            )
        case .denied(let reason, let credentialID, _):
            let outcome = access.recordFailure(peer, againstPeer: true, at: now)
            // A denial of a verified credential is always audited; junk (no verified credential) only within budget.
            _ = act(on: decision, peer: peer, audited: outcome.audit || credentialID != nil)
            limiterAlarms(outcome, peer: peer)
            return (decision, ResultCode(reason), 0)
        }
    }

    /// Whether a peer may start a presentation: per-peer back-off after failures, and one session per second for
    /// everyone while the lock is over its global failure budget (`FailureLimiter`).
    public func admit(peer: String) -> Bool { access.admit(peer, at: now) }

    /// A session failed before a decision (malformed frame, bad version, tampered or replayed message, timeout).
    /// `againstPeer` only when the peer had presented (PRESENT received); earlier failures count against the global
    /// budget alone (docs/protocol.md §14).
    public func protocolFailure(_ error: ProtocolError, peer: String, againstPeer: Bool = true) {
        let outcome = access.recordFailure(peer, againstPeer: againstPeer, at: now)
        if outcome.audit {
            audit(
                AuditEvent(
                    .malformed,
                    door: config.doorID,
                    reason: error.code.name,
                    detail: "peer=\(peer) \(error.message)"
                )
            )
            logger.notice("presentation failed", metadata: ["peer": "\(peer)", "code": "\(error.code.name)"])
        }
        limiterAlarms(outcome, peer: peer)
    }

    /// A connection that ended before presenting without a protocol error (the link dropped, the peer closed): counted
    /// against the global budget so connection floods are throttled, never against the peer, not audited one by one.
    public func sessionAbandoned(peer: String) {
        limiterAlarms(access.recordFailure(peer, againstPeer: false, at: now), peer: peer)
    }

    /// The audit records a failure may add: its peer blocked, the global throttle starting, a summary of failures
    /// counted instead of audited (also flushed once a minute by `everyMinute`).
    private func limiterAlarms(_ outcome: FailureLimiter.Outcome, peer: String) {
        if outcome.peerBlocked && outcome.audit {
            audit(AuditEvent(.alarm, door: config.doorID, reason: "rate_limited", detail: "peer=\(peer)"))
        }
        if outcome.globalThrottleStarted {
            let detail =
                "\(access.limiter.globalMaxFailures) failed presentations within \(access.limiter.window.components.seconds) s from all peers: one new session per second until it calms down"
            audit(AuditEvent(.alarm, door: config.doorID, reason: "rate_limited_global", detail: detail))
            logger.warning(
                "failed presentations over the lock's budget: throttling all new sessions",
                metadata: ["detail": "\(detail)"]
            )
        }
        if let summary = outcome.summary { auditSummary(summary) }
    }

    private func auditSummary(_ s: FailureLimiter.AuditSummary) {
        audit(
            AuditEvent(
                .alarm,
                door: config.doorID,
                reason: "failures_summarised",
                detail:
                    "\(s.failures) failed presentations from \(s.peers) peer addresses in \(s.over.components.seconds) s, over the budget: not audited one by one"
            )
        )
    }

    /// Acts on a decision for an already verified credential (the benchmark's path).
    public func decide(_ credential: Credential) -> AccessDecision {
        act(on: access.decide(credential, lockdown: door.lockdown, at: decisionTime()))
    }

    private func decisionTime() -> Date? {
        // The mark advances in memory here; it is persisted once a minute, never on the decision path.
        let assessment = time.assess(wallClock: wallClock())
        noteClock(assessment)
        return time.decisionTime(for: assessment)
    }

    /// Raises the clock-jump alarm when the clock becomes unconfirmed and clears it when time is trusted again.
    private var clockJumpAlarm = false
    private func noteClock(_ assessment: TrustedTime.Assessment) {
        switch assessment {
        case .unconfirmed(let wall, let mark) where !clockJumpAlarm:
            clockJumpAlarm = true
            let detail =
                "wall clock \(Int(wall.timeIntervalSince1970)) is \(Int(wall.timeIntervalSince(mark))) s past the high-water mark \(Int(mark.timeIntervalSince1970)): not trusted until confirmed"
            audit(AuditEvent(.alarm, door: config.doorID, reason: AlarmReason.clockJump.rawValue, detail: detail))
            logger.warning(
                "clock jumped forward past the high-water mark; time is unconfirmed (wardenctl time confirm, or signed time from the cloud)",
                metadata: ["detail": "\(detail)"]
            )
        case .trusted where clockJumpAlarm:
            clockJumpAlarm = false
            audit(AuditEvent(.alarmCleared, door: config.doorID, reason: AlarmReason.clockJump.rawValue))
        default: break
        }
    }

    /// warden-updater wrote its report (control socket `update_reported`). The report is read again and, when new,
    /// audited as a `config` record: the record reaches the sync service, which publishes the board's state with the
    /// report at once, so a rollout sees the result without waiting for the next periodic state.
    @discardableResult
    public func updateReported() -> UpdateReport? {
        let report = config.software.report()
        guard report != software.report else { return report }
        software.report = report
        if let r = report {
            audit(
                AuditEvent(
                    .config,
                    door: config.doorID,
                    reason: "update_\(r.status.rawValue)",
                    detail:
                        "target \(r.target), runs \(r.version ?? "?") jti=\(r.jti)\(r.detail.map { ": \($0)" } ?? "")"
                )
            )
        }
        return report
    }

    /// What a restart of wardend does to the software facts: both read again. The fleet simulator's boards call it
    /// in place of the restart a package install makes.
    public func softwareRestarted() {
        software.version = config.software.installedVersion()
        updateReported()
    }

    /// An operator confirms the board's clock (`wardenctl time confirm`).
    public func confirmTime() {
        time.confirm(wallClock: wallClock())
        noteClock(time.assess(wallClock: wallClock()))
        audit(
            AuditEvent(
                .config,
                door: config.doorID,
                reason: "time_confirmed",
                detail: "\(Int(wallClock().timeIntervalSince1970))"
            )
        )
        persistMark()
        if passageOverride == nil { evaluatePassageSchedule() }
    }

    private func act(on decision: AccessDecision, peer: String? = nil, audited: Bool = true) -> AccessDecision {
        switch decision {
        case .granted(let g):
            perform(door.grant(extendedTime: g.extendedTime, at: now))
            audit(
                AuditEvent(
                    .accessGranted,
                    door: config.doorID,
                    credentialID: g.credentialID,
                    userID: g.userID,
                    detail: [g.extendedTime ? "extended" : nil, peer.map { "peer=\($0)" }].compactMap { $0 }.joined(
                        separator: " "
                    ).nilIfEmpty
                )
            )
            Counter(label: "warden_decisions_total", dimensions: [("result", "granted")]).increment()
            logger.info("access granted", metadata: ["credential": "\(g.credentialID)", "user": "\(g.userID)"])
        case .denied(let reason, let cred, let user):
            if audited {
                audit(
                    AuditEvent(
                        .accessDenied,
                        door: config.doorID,
                        credentialID: cred,
                        userID: user,
                        reason: reason.rawValue,
                        detail: peer.map { "peer=\($0)" }
                    )
                )
                logger.info(
                    "access denied",
                    metadata: ["reason": "\(reason.rawValue)", "credential": "\(cred ?? "-")"]
                )
            }
            Counter(label: "warden_decisions_total", dimensions: [("result", "denied"), ("reason", reason.rawValue)])
                .increment()
        }
        return decision
    }

    // MARK: operator commands

    public func pulse(_ length: Duration) {
        guard !stopped else { return }
        perform(door.pulse(length, at: now))
    }

    public func setLockdown(_ on: Bool) {
        guard !stopped else { return }
        perform(door.setLockdown(on, at: now))
    }

    /// Manual passage: true/false overrides the schedule, nil returns to it.
    public func setPassage(_ on: Bool?) {
        guard !stopped else { return }
        passageOverride = on
        if let on { perform(door.setPassage(on, at: now)) } else { evaluatePassageSchedule() }
    }

    /// Applies an authority-signed access-list update (control socket now, MQTT sync next): verified, committed,
    /// in memory before the next decision (the actor runs nothing in between), audited either way.
    public func applyAccessList(token: String) throws -> Int64 {
        do {
            let (update, reloadError) = try access.apply(token: token)
            if let reloadError { accessListUnavailable(reloadError) }
            audit(
                AuditEvent(
                    .config,
                    door: config.doorID,
                    reason: "access_list",
                    detail: "v\(update.ver) grant=\(update.grant.count) revoke=\(update.revoke.count)"
                )
            )
            return update.ver
        } catch {
            audit(AuditEvent(.config, door: config.doorID, reason: "access_list_refused", detail: "\(error)"))
            throw error
        }
    }

    // MARK: remote (MQTT sync, docs/mqtt.md)

    /// Commands live at most this long (`exp - iat`), but for `update` (`SignedCommand.maxLifetime`).
    public static var maxCommandLifetime: Int64 { SignedCommand.maxLifetime(.unlock) }

    /// Executes an authority-signed remote command at most once: it must verify, name this board, be unexpired on
    /// trusted time (unknown or unconfirmed time refuses all but `sync`) and carry a nonce never executed before
    /// (kept in SQLite until it expires, so a reboot does not reopen the window). Audited either way. Returns the
    /// result to publish and, when it executed, the command (the caller acts on `sync`).
    public func execute(commandToken token: String) -> (result: CommandResult, executed: SignedCommand?) {
        let result: CommandResult
        var executed: SignedCommand?
        do {
            let command = try SignedCommand.verified(token, authority: config.authority)
            var outcome = check(command)
            if outcome.ok {
                switch command.cmd {
                case .unlock: perform(door.pulse(.milliseconds(command.ms ?? 0), at: now))
                case .lockdown: perform(door.setLockdown(command.on ?? false, at: now))
                case .sync: break
                case .update, .supportBundle:
                    // The door does nothing: a root helper takes the command from wardend's runtime folder
                    // (warden-updater.path, warden-support.path: docs/updates.md).
                    do { try config.software.handOver(command.cmd, token: token, now: wallClock()) } catch {
                        outcome = CommandResult(
                            jti: command.jti,
                            code: .unsupported,
                            detail: "cannot hand the \(command.cmd.rawValue) command to its helper: \(error)"
                        )
                    }
                }
                if outcome.ok { executed = command }
            }
            result = outcome
            audit(
                AuditEvent(
                    .command,
                    door: config.doorID,
                    reason: result.code.rawValue,
                    detail:
                        "\(command.cmd.rawValue)\(command.ms.map { " ms=\($0)" } ?? "")\(command.on.map { " on=\($0)" } ?? "")\(command.ver.map { " ver=\($0)" } ?? "") jti=\(command.jti)\(result.detail.map { ": \($0)" } ?? "")"
                )
            )
        } catch {
            result = CommandResult(jti: "", code: .badSignature, detail: "\(error)")
            audit(AuditEvent(.command, door: config.doorID, reason: result.code.rawValue, detail: "\(error)"))
        }
        if !result.ok {
            logger.warning(
                "remote command refused",
                metadata: ["code": "\(result.code.rawValue)", "detail": "\(result.detail ?? "")"]
            )
        }
        return (result, executed)
    }

    private func check(_ command: SignedCommand) -> CommandResult {
        let jti = command.jti
        guard command.dev == config.lockID else {
            return CommandResult(
                jti: jti,
                code: .wrongDevice,
                detail: "for '\(command.dev)', this is '\(config.lockID)'"
            )
        }
        guard !stopped else { return CommandResult(jti: jti, code: .unsupported, detail: "wardend is stopping") }
        switch command.cmd {
        case .unlock:
            guard let ms = command.ms, (1...3_600_000).contains(ms) else {
                return CommandResult(jti: jti, code: .malformed, detail: "unlock needs ms between 1 and 3600000")
            }
        case .lockdown:
            guard command.on != nil else {
                return CommandResult(jti: jti, code: .malformed, detail: "lockdown needs on")
            }
        case .sync: break
        case .update:
            guard let ver = command.ver, SignedCommand.isDebianVersion(ver) else {
                return CommandResult(jti: jti, code: .malformed, detail: "update needs ver, a Debian version")
            }
        case .supportBundle:
            guard let url = command.url, SignedCommand.isUploadURL(url), let tok = command.tok,
                (16...256).contains(tok.utf8.count)
            else {
                return CommandResult(
                    jti: jti,
                    code: .malformed,
                    detail: "support_bundle needs url (http or https, no query) and tok"
                )
            }
        }
        let lifetime = SignedCommand.maxLifetime(command.cmd)
        guard command.exp - command.iat <= lifetime, command.exp > command.iat else {
            return CommandResult(jti: jti, code: .expired, detail: "lifetime over \(lifetime) s")
        }
        let nowSeconds: Int64
        if let t = time.trustedTime(wallClock: wallClock()) {
            nowSeconds = Int64(t.timeIntervalSince1970)
        } else if command.cmd == .sync {
            nowSeconds = Int64(wallClock().timeIntervalSince1970)
        } else {
            return CommandResult(jti: jti, code: .timeUnknown, detail: "the board's time is not trusted")
        }
        guard nowSeconds < command.exp else {
            return CommandResult(jti: jti, code: .expired, detail: "expired at \(command.exp), now \(nowSeconds)")
        }
        guard command.iat <= nowSeconds + 60 else {
            return CommandResult(jti: jti, code: .expired, detail: "issued in the future (\(command.iat))")
        }
        do {
            guard try db.claimCommand(jti: jti, exp: command.exp, now: nowSeconds) else {
                return CommandResult(jti: jti, code: .replayed, detail: "already executed")
            }
        } catch {
            return CommandResult(jti: jti, code: .failed, detail: "\(error)")
        }
        return CommandResult(jti: jti, code: .ok)
    }

    /// Time the authority signed for this board's own fresh nonce (checked by the caller, with the round trip):
    /// the clock follows it, which leaves the unknown-time state and confirms a forward jump (docs/time.md).
    public func syncTime(reference: Date, detail: String) {
        let wall = wallClock()
        // Authority-signed and bound to this board's fresh nonce: it may also pull back a clock (and the mark) that ran
        // into the future (docs/time.md).
        time.sync(reference: reference, wallClock: wall, allowRewind: true)
        noteClock(time.assess(wallClock: wall))
        audit(
            AuditEvent(
                .config,
                door: config.doorID,
                reason: "time_synced",
                detail: "\(detail) offset_ms=\(Int64((reference.timeIntervalSince(wall) * 1000).rounded()))"
            )
        )
        persistMark()
        if passageOverride == nil { evaluatePassageSchedule() }
    }

    /// Something from the network was refused before it reached the door (a time answer, a malformed message):
    /// audited, so a forgery attempt is visible in the trail.
    public func refused(_ what: String, detail: String) {
        audit(AuditEvent(.config, door: config.doorID, reason: "\(what)_refused", detail: detail))
        logger.warning("refused \(what) from the network", metadata: ["detail": "\(detail)"])
    }

    /// An alarm the sync raises (the cloud disagrees about the audit chain): recorded, published with the others.
    public func syncAlarm(_ reason: AlarmReason, detail: String) {
        audit(AuditEvent(.alarm, door: config.doorID, reason: reason.rawValue, detail: detail))
        logger.error("sync alarm", metadata: ["reason": "\(reason.rawValue)", "detail": "\(detail)"])
    }

    /// Whether decisions run on trusted time now (the sync asks the cloud for signed time while they do not).
    public var timeIsTrusted: Bool {
        var t = time
        if case .trusted = t.assess(wallClock: wallClock()) { return true }
        return false
    }

    public func status() -> ControllerStatus {
        var t = time
        let trusted: Bool
        let timeState: String
        switch t.assess(wallClock: wallClock()) {
        case .trusted: (trusted, timeState) = (true, "trusted")
        case .unknown: (trusted, timeState) = (false, "unknown")
        case .unconfirmed: (trusted, timeState) = (false, "unconfirmed")
        }
        var alarms: [String] = []
        if timeState == "unconfirmed" { alarms.append(AlarmReason.clockJump.rawValue) }
        if door.forcedOpenAlarm { alarms.append("forced_open") }
        if door.heldOpenAlarm { alarms.append("held_open") }
        if door.tamperActive { alarms.append("tamper") }
        if relockPending { alarms.append(AlarmReason.relayFault.rawValue) }
        let writeError = journal.lastWriteError
        if writeError != nil { alarms.append(AlarmReason.journalWriteFailed.rawValue) }
        return ControllerStatus(
            door: config.doorID,
            lockID: config.lockID,
            board: profile.name,
            relayUnlocked: door.relayUnlocked || relockPending,
            relayEnergized: profile.relayEnergized(unlocked: door.relayUnlocked || relockPending),
            doorClosed: door.doorClosed,
            rexActive: door.rexActive,
            tamperActive: door.tamperActive,
            passage: door.passage,
            lockdown: door.lockdown,
            alarms: alarms,
            accessListVersion: (try? db.accessListVersion()) ?? -1,
            auditLastSeq: journal.lastSeq,
            auditDurableSeq: journal.durableSeq,
            timeTrusted: trusted,
            auditPending: journal.pendingCount,
            auditWriteError: writeError,
            ready: ready && !stopped,
            time: timeState,
            version: software.version,
            update: software.report
        )
    }

    /// Every audit record as it is appended (for `wardenctl watch`).
    public func watch() -> AsyncStream<AuditRecord> {
        let (stream, c) = AsyncStream.makeStream(of: AuditRecord.self, bufferingPolicy: .bufferingNewest(256))
        let id = UUID()
        watchers[id] = c
        c.onTermination = { [weak self] _ in Task { await self?.unwatch(id) } }
        return stream
    }

    private func unwatch(_ id: UUID) { watchers[id] = nil }

    // MARK: events

    /// An input edge (the backend's stream feeds this; tests may call it directly).
    public func edge(_ e: InputEdge) {
        guard !stopped else { return }
        perform(door.rawInput(e.input, active: e.active, at: now))
    }

    /// Called by the timer at the state machine's next wake-up.
    public func tick() {
        guard !stopped else { return }
        perform(door.tick(at: now))
    }

    private func everyMinute() {
        if passageOverride == nil { evaluatePassageSchedule() }
        noteClock(time.assess(wallClock: wallClock()))
        persistMark()
        if let summary = access.takeSummary(at: now) { auditSummary(summary) }
        _ = try? journal.prune(now: wallClock())
        if access.accessIndex == nil { reloadAccessIndex() }
    }

    private func evaluatePassageSchedule() {
        guard let schedule = config.passageSchedule, passageOverride == nil else { return }
        guard let t = time.trustedTime(wallClock: wallClock()) else {
            perform(door.setPassage(false, at: now))  // unknown or unconfirmed time: never hold the door open
            return
        }
        perform(door.setPassage(schedule.evaluate(t, in: config.calendar) == .inside, at: now))
    }

    private func perform(_ actions: [DoorAction]) {
        for a in actions {
            switch a {
            case .setRelay(let unlocked):
                guard !(stopped && unlocked) else { continue }  // nothing unlocks once shutdown has begun
                do {
                    try io.setRelay(energized: profile.relayEnergized(unlocked: unlocked))
                    if !unlocked { relockSucceeded() }
                } catch {
                    logger.error("relay write failed", metadata: ["error": "\(error)", "unlocking": "\(unlocked)"])
                    audit(
                        AuditEvent(
                            .alarm,
                            door: config.doorID,
                            reason: AlarmReason.relayFault.rawValue,
                            detail: "\(error)"
                        )
                    )
                    if !unlocked { startRelockRetry() }
                }
            case .audit(let e):
                audit(e)
            }
        }
        rearm()
    }

    /// A relock that failed is retried every 250 ms until a write succeeds; meanwhile status reports the relay as
    /// not locked and the alarm stands (a failed write is never reported as locked).
    private func startRelockRetry() {
        relockPending = true
        guard relockTask == nil else { return }
        relockTask = Task { [weak self, clock] in
            while !Task.isCancelled {
                do { try await clock.sleep(for: .milliseconds(250)) } catch { return }
                guard let self, await self.retryRelock() else { continue }
                return
            }
        }
    }

    /// One retry; true when the relay is locked again.
    private func retryRelock() -> Bool {
        guard relockPending else { return true }
        do {
            try io.setRelay(energized: profile.relayEnergized(unlocked: false))
        } catch {
            return false
        }
        relockSucceeded()
        return true
    }

    private func relockSucceeded() {
        guard relockPending else { return }
        relockPending = false
        relockTask?.cancel()
        relockTask = nil
        audit(AuditEvent(.relay, door: config.doorID, reason: "relock_retried", detail: "locked"))
        audit(AuditEvent(.alarmCleared, door: config.doorID, reason: AlarmReason.relayFault.rawValue))
        logger.notice("relay locked again after failed writes")
    }

    private func rearm() {
        timer?.cancel()
        timer = nil
        guard !stopped, let wake = door.nextWakeup else { return }
        let delay = max(.zero, wake - now)
        timer = Task { [weak self, clock] in
            do { try await clock.sleep(for: delay) } catch { return }
            await self?.tick()
        }
    }

    private func audit(_ e: AuditEvent) {
        let ms = Int64(wallClock().timeIntervalSince1970 * 1000)
        let r = journal.append(e, timeMillis: ms)
        for w in watchers.values { w.yield(r) }
    }

    private func persistMark() {
        try? db.setMeta("time_high_water_mark", String(time.highWaterMark.timeIntervalSince1970))
    }
}

extension String {
    fileprivate var nilIfEmpty: String? { isEmpty ? nil : self }
}
