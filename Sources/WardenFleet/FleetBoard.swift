import Foundation
import Logging
import Mosquitto
import Synchronization
import WardenController
import WardenCore
import WardenStore
import WardenSync

/// One simulated board: wardend's own parts (config file, SQLite store, hash-chained journal, door controller on
/// simulated GPIO, and the MQTT sync service), without the control socket and the presentation transports.
final class FleetBoard: Sendable {
    let id: String
    let config: WardenConfig
    let database: WardenDatabase
    let journal: AuditJournal
    let controller: DoorController<ContinuousClock>
    let io: SimulatedDoorIO
    let sync: BoardSyncService
    let link = FleetLink()
    private let rexPressed = Atomic<Bool>(false)

    /// The simulated board profile every fleet board uses (the repository's boards/sim.yaml, inlined so the
    /// simulator runs from an installed wardenctl too).
    static let profile = """
        name: "Simulated board"
        chip: sim
        relay: { line: 0, active_low: true, kind: strike, pulse_ms: 5000, extended_pulse_ms: 15000 }
        inputs:
          door_contact: { line: 1, active_low: true, bias: pull-up, debounce_ms: 50 }
          rex: { line: 2, active_low: true, bias: pull-up, debounce_ms: 50 }
          tamper: { line: 3, active_low: false, bias: pull-up, debounce_ms: 50 }
        led: { line: 4, active_low: false }
        held_open_s: 30

        """

    init(index: Int, options: FleetOptions, profilePath: String, logger: Logger) throws {
        let id = options.deviceID(index)
        self.id = id
        let dir = URL(fileURLWithPath: options.directory).appendingPathComponent(id)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let keys = options.authorityKeys.map { "\($0.key): \($0.value)" }.joined(separator: ", ")
        let path = dir.appendingPathComponent("warden.yaml").path
        let ack =
            (options.ackTimeoutMillis.map { ", ack_timeout_ms: \($0)" } ?? "")
            + (options.passwordFile.map { ", username: \(id), password_file: \($0)" } ?? "")
        try """
        door: { id: door-\(id), lock_id: \(id), groups: [fleet] }
        board: \(profilePath)
        site: { time_zone: UTC }
        authority_keys: { \(keys) }
        access: { require_listed: true }
        state_dir: state
        control_socket: control.sock
        sync: { org: \(options.org), broker: "\(options.host):\(options.port)"\(ack) }
        software: { version_file: version, update_order: update-order.json, update_report: update.json }

        """.write(toFile: path, atomically: true, encoding: .utf8)
        let versionFile = dir.appendingPathComponent("version").path
        if let updates = options.updates, !FileManager.default.fileExists(atPath: versionFile) {
            try "\(updates.initialVersion)\n".write(toFile: versionFile, atomically: true, encoding: .utf8)
        }
        config = try WardenConfig.load(path: path)
        let profile = try BoardProfile.load(path: config.boardPath)
        (database, journal) = try WardenDaemon.openState(config)
        io = SimulatedDoorIO()
        controller = try DoorController(
            config: config,
            profile: profile,
            io: io,
            database: database,
            journal: journal,
            clock: ContinuousClock(),
            logger: logger
        )
        let link = self.link
        sync = try BoardSyncService(
            settings: config.sync!,
            controller: controller,
            journal: journal,
            logger: logger,
            firstReconnectDelay: options.firstReconnectDelay,
            observe: { event in
                switch event {
                case .connected: link.connected(at: .now)
                case .disconnected: link.disconnected(at: .now)
                }
            },
            observeAcknowledgement: { link.acknowledged(after: $0) }
        )
    }

    /// One decision as the door would make it: the credential (already verified, as after a presentation) or,
    /// without one, the request-to-exit button pressed, or released at the next call (an edge shorter than the
    /// debounce time would be filtered out, as on a real board).
    func decide(_ credential: Credential?) async {
        if let credential {
            _ = await controller.decide(credential)
        } else {
            let pressed = !rexPressed.load(ordering: .relaxed)
            rexPressed.store(pressed, ordering: .relaxed)
            await controller.edge(InputEdge(input: .rex, active: pressed))
        }
    }
}
