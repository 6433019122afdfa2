import Foundation
import GPIOD
import Logging
import Metrics
import POSIXIO
import Prometheus
import ServiceLifecycle
import Synchronization
import WardenCore
import WardenStore

#if canImport(Glibc)
import Glibc
import WardenWire
#endif

/// wardend's start-up, serving and shutdown. Order matters for safety: the GPIO lines are taken first with the relay
/// at its locked level, and from then on every failure and every signal ends with the relay driven to locked.
public enum WardenDaemon {
    /// `wardend --check`: validate config and/or board profile like `nginx -t`. Returns (exit code, message).
    public static func check(configPath: String?, boardPath: String?) -> (Int32, String) {
        do {
            var messages: [String] = []
            if let configPath {
                let c = try WardenConfig.load(path: configPath)
                let b = try BoardProfile.load(path: boardPath ?? c.boardPath)
                messages.append(
                    "\(configPath): ok (door \(c.doorID), \(c.authority.keyIDs.count) authority key(s), board \(b.file): \(b.name))"
                )
            } else if let boardPath {
                let b = try BoardProfile.load(path: boardPath)
                messages.append(
                    "\(boardPath): ok (\(b.name), chip \(b.chip), relay line \(b.relay.line) \(b.relayKind.rawValue))"
                )
            } else {
                return (2, "nothing to check: give --config FILE and/or --board FILE")
            }
            return (0, messages.joined(separator: "\n"))
        } catch {
            return (1, "\(error)")
        }
    }

    /// The board's state folder (0700), its database and its journal, as wardend and every simulated board of
    /// `wardenctl fleet-sim` open them.
    public static func openState(_ config: WardenConfig) throws -> (WardenDatabase, AuditJournal) {
        try FileManager.default.createDirectory(
            atPath: config.stateDir,
            withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700]
        )
        let db = try WardenDatabase(path: config.databasePath)
        return (db, try AuditJournal(database: db, retention: config.retention))
    }

    /// Opens the door hardware the profile names.
    public static func openIO(_ profile: BoardProfile) throws -> any DoorIO {
        if profile.isSimulated { return SimulatedDoorIO() }
        return try LibgpiodDoorIO(profile: profile)
    }

    /// Runs until SIGTERM/SIGINT. Returns the process exit code.
    ///
    /// Start-up takes the GPIO lines first with the relay at its locked level; everything else is bound before the
    /// service group starts, so READY means every listener accepts. The group stops its services in reverse order:
    /// watchdog, BLE, presentation transports (sessions under way cancelled), control socket, the door (relay
    /// locked, stop recorded, journal flushed), the journal; then the relay is driven locked once more, last.
    /// `makeSync` builds the MQTT sync service when the config has a `sync:` section (wardend passes WardenSync's;
    /// this module does not link libmosquitto).
    public static func run(
        configPath: String,
        makeSync: (WardenConfig, SyncSettings, DoorController<ContinuousClock>, AuditJournal, Logger) throws -> (
            any Service
        )? = {
            _,
            _,
            _,
            _,
            _ in nil
        }
    ) async -> Int32 {
        let signals = SignalWatcher.shared  // first: a SIGTERM during start-up must still end with the relay locked
        let config: WardenConfig
        let profile: BoardProfile
        do {
            config = try WardenConfig.load(path: configPath)
            profile = try BoardProfile.load(path: config.boardPath)
        } catch {
            FileHandle.standardError.write(Data("<3>wardend: cannot start: \(error)\n".utf8))
            return 1
        }
        let level = Logger.Level(rawValue: config.logLevel) ?? .info
        LoggingSystem.bootstrap { JournaldLogHandler(label: $0, level: level) }
        let logger = Logger(label: "wardend")
        // Metrics go to a Prometheus registry only when the config asks for the text file (otherwise swift-metrics'
        // no-op backend: nothing is kept).
        let metricsRegistry = config.metrics.map { _ in PrometheusCollectorRegistry() }
        if let metricsRegistry { MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: metricsRegistry)) }
        let notifier = SystemdNotifier()
        umask(0o077)  // everything wardend creates (state, sockets, database) is its own

        let io: any DoorIO
        do {
            io = try openIO(profile)
        } catch {
            logger.critical(
                "cannot open the door hardware; the relay line was not taken",
                metadata: ["error": "\(error)", "board": "\(profile.file)"]
            )
            return 1
        }
        // From here on the relay is ours: every failure path drives it locked.
        func failLocked(_ what: String, _ error: any Error) -> Int32 {
            try? io.setRelay(energized: profile.relayEnergized(unlocked: false))
            logger.critical("\(what); relay driven to locked", metadata: ["error": "\(error)"])
            io.close()
            return 1
        }
        func stopDuringStartUp(_ signal: Int32) -> Int32 {
            try? io.setRelay(energized: profile.relayEnergized(unlocked: false))
            logger.notice("stopped during start-up; relay driven to locked", metadata: ["signal": "\(signal)"])
            io.close()
            return 0
        }
        do {
            try io.setRelay(energized: profile.relayEnergized(unlocked: false))
        } catch { return failLocked("cannot drive the relay", error) }
        if let s = signals.fired { return stopDuringStartUp(s) }

        let db: WardenDatabase
        let journal: AuditJournal
        let controller: DoorController<ContinuousClock>
        do {
            (db, journal) = try openState(config)
            controller = try DoorController(
                config: config,
                profile: profile,
                io: io,
                database: db,
                journal: journal,
                clock: ContinuousClock(),
                logger: logger
            )
        } catch { return failLocked("cannot open the state store", error) }
        if let s = signals.fired { return stopDuringStartUp(s) }

        let health = DaemonHealth()
        health.register("door") { await !controller.isStopping }
        health.register("gpio inputs", serving: true) { io.inputsAlive }
        let sim = io as? SimulatedDoorIO
        let server: ControlServer
        do {
            server = try ControlServer(
                path: config.controlSocket,
                logger: logger,
                handler: { command in await handle(command, controller: controller, sim: sim) },
                watch: {
                    let records = await controller.watch()
                    return AsyncStream { c in
                        let t = Task {
                            for await r in records {
                                c.yield(
                                    WatchedRecord(
                                        seq: r.seq,
                                        timeMillis: r.timeMillis,
                                        kind: r.event.kind.rawValue,
                                        reason: r.event.reason,
                                        detail: r.event.detail,
                                        credentialID: r.event.credentialID,
                                        userID: r.event.userID
                                    )
                                )
                            }
                            c.finish()
                        }
                        c.onTermination = { _ in t.cancel() }
                    }
                }
            )
        } catch { return failLocked("cannot open the control socket", error) }
        health.register("control socket") { server.isAlive }

        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        let stopReason = Mutex("signal")
        services.append(.init(service: JournalService(journal: journal)))
        services.append(
            .init(service: DoorService(controller: controller, health: health, reason: { stopReason.withLock { $0 } }))
        )
        services.append(.init(service: ControlSocketService(server: server, health: health)))
        if let metricsRegistry, let settings = config.metrics {
            services.append(
                .init(service: MetricsTextFileService(registry: metricsRegistry, settings: settings, logger: logger))
            )
        }
        if let settings = config.sync {
            do {
                if let sync = try makeSync(config, settings, controller, journal, logger) {
                    services.append(.init(service: sync))
                    logger.info(
                        "cloud sync on",
                        metadata: ["broker": "\(settings.host):\(settings.port)", "org": "\(settings.org)"]
                    )
                }
            } catch {
                server.stop()
                return failLocked("cannot set up the cloud sync (sync: in the config)", error)
            }
        }
        if let identity = config.identity {
            let service = PresentationService(
                controller: controller,
                certificate: identity.certificate,
                deviceKey: identity.deviceKey,
                maxSessions: config.presentation.maxSessions,
                timeout: config.presentation.sessionTimeout,
                logger: logger
            )
            var listeners: [SocketListener] = []
            do {
                if let path = config.presentation.unixPath {
                    listeners.append(try SocketListener.unix(path: path, kind: .seqpacket, what: "presentation socket"))
                }
                if let host = config.presentation.tcpHost, let port = config.presentation.tcpPort {
                    listeners.append(try SocketListener.tcp(host: host, port: port, what: "presentation tcp"))
                }
            } catch {
                server.stop()
                return failLocked("cannot open a presentation transport", error)
            }
            for l in listeners { logger.info("development transport listening", metadata: ["on": "\(l.description)"]) }
            let bound = listeners
            health.register("presentation transports") { bound.allSatisfy(\.isAlive) }
            services.append(
                .init(
                    service: PresentationTransportService(
                        listeners: bound,
                        unixPath: config.presentation.unixPath,
                        service: service,
                        health: health
                    )
                )
            )
            if config.presentation.ble {
                health.register("ble") { true }
                services.append(
                    .init(
                        service: BLEService(
                            service: service,
                            psm: config.presentation.blePSM,
                            adapter: config.presentation.bleAdapter,
                            lockID: config.lockID,
                            logger: logger,
                            health: health
                        )
                    )
                )
            }
        } else {
            logger.warning(
                "no lock identity (identity.device_key, identity.lock_certificate): phones cannot present keys until the board is provisioned"
            )
        }
        if let v = try? journal.verifyTail(last: 1000) {
            logger.info(
                "audit journal tail verifies",
                metadata: ["records": "\(v.count)", "last_seq": "\(v.lastSeq ?? 0)"]
            )
        } else {
            logger.error("audit journal tail does not verify: run `wardenctl audit verify`")
        }
        services.append(
            .init(
                service: WatchdogService(
                    notifier: notifier,
                    health: health,
                    onReady: {
                        await controller.setReady()
                        logger.info(
                            "wardend ready",
                            metadata: [
                                "door": "\(config.doorID)", "board": "\(profile.name)",
                                "gpio": "\(profile.isSimulated ? "simulated" : "libgpiod v\(GPIOChip.apiVersion)")",
                                "socket": "\(config.controlSocket)",
                            ]
                        )
                    },
                    logger: logger
                )
            )
        )

        let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: services, logger: logger))
        signals.onSignal { signal in
            stopReason.withLock { $0 = "signal \(signal)" }
            notifier.notify("STOPPING=1")
            logger.notice("stopping", metadata: ["signal": "\(signal)"])
            Task { await group.triggerGracefulShutdown() }
        }
        var code: Int32 = 0
        do {
            try await group.run()
        } catch {
            logger.critical("a part of wardend failed; stopping", metadata: ["error": "\(error)"])
            await controller.shutdown(reason: "failure: \(error)")
            code = 1
        }
        // The last word: whatever happened above, the relay ends at its locked level.
        try? io.setRelay(energized: profile.relayEnergized(unlocked: false))
        io.close()
        return code
    }

    static func handle(
        _ command: ControlCommand,
        controller: DoorController<ContinuousClock>,
        sim: SimulatedDoorIO?
    ) async -> ControlResponse {
        var r = ControlResponse(ok: true)
        switch command {
        case .status:
            r.status = await controller.status()
        case .pulse(let length):
            await controller.pulse(length)
        case .lockdown(let on):
            await controller.setLockdown(on)
        case .passage(let mode):
            await controller.setPassage(mode)
        case .accessApply(let token):
            do { r.version = try await controller.applyAccessList(token: token) } catch { return .failure("\(error)") }
        case .commandApply(let token):
            let (result, _) = await controller.execute(commandToken: token)
            r.result = result
            if !result.ok {
                r.ok = false
                r.error = "\(result.code.rawValue)\(result.detail.map { ": \($0)" } ?? "")"
            }
        case .updateReported:
            await controller.updateReported()
            r.status = await controller.status()
        case .simInput(let input, let active):
            guard let sim else { return .failure("sim_input works only on the simulated board (chip: sim)") }
            sim.drive(input, active: active)
        case .confirmTime:
            await controller.confirmTime()
            r.status = await controller.status()
        case .watch:
            return .failure("watch streams records; the server handles it before this point")
        }
        return r
    }
}
