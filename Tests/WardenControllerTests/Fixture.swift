import Crypto
import Foundation
import Synchronization
import WardenAuthority
import WardenController
import WardenCore
import WardenStore

/// A controller on the simulated board with a real SQLite store, a manual clock and a settable wall clock.
final class Fixture: Sendable {
    let dir = TempDir()
    let authority = CredentialIssuer(keyID: "org-1", privateKey: P256.Signing.PrivateKey())
    let holder = P256.Signing.PrivateKey()
    let io = SimulatedDoorIO()
    let clock = ManualClock()
    let wall = WallClock(Date(timeIntervalSince1970: 1_790_000_000))  // Mon 2026-09-21 16:13 Berlin
    let config: WardenConfig
    let profile: BoardProfile
    let db: WardenDatabase
    let journal: AuditJournal
    let controller: DoorController<ManualClock>

    init(extraConfig: String = "") throws {
        _ = dir.write("authority.pub", authority.privateKey.publicKey.pemRepresentation)
        let yaml = """
            door: {id: front, lock_id: lock-1, groups: [lobby]}
            board: \(repoRoot.appendingPathComponent("boards/sim.yaml").path)
            site: {time_zone: Europe/Berlin, holidays: ["2026-12-25"]}
            authority_keys: {org-1: authority.pub}
            state_dir: state
            control_socket: control.sock
            \(extraConfig)
            """
        config = try WardenConfig.load(path: dir.write("warden.yaml", yaml))
        profile = try BoardProfile.load(path: config.boardPath)
        try FileManager.default.createDirectory(atPath: config.stateDir, withIntermediateDirectories: true)
        db = try WardenDatabase(path: config.databasePath)
        journal = try AuditJournal(database: db)
        let wall = self.wall
        controller = try DoorController(
            config: config,
            profile: profile,
            io: io,
            database: db,
            journal: journal,
            clock: clock,
            wallClock: { wall.now }
        )
        let j = journal
        Task { await j.run() }
    }

    deinit { journal.finish() }

    func token(
        id: String = "c1",
        doors: [String] = ["front"],
        expiresIn: TimeInterval = 86_400,
        notBefore: TimeInterval = -3600,
        schedule: WeeklySchedule = .always,
        extended: Bool = false,
        by issuer: CredentialIssuer? = nil,
        holderKey: P256.Signing.PublicKey? = nil
    ) async throws -> String {
        try await (issuer ?? authority).sign(
            CredentialClaims(
                issuer: "org",
                userID: "alice",
                credentialID: id,
                issuedAt: wall.now,
                notBefore: wall.now.addingTimeInterval(notBefore),
                expires: wall.now.addingTimeInterval(expiresIn),
                holderKey: holderKey ?? holder.publicKey,
                doors: doors,
                schedule: schedule,
                extendedTime: extended
            )
        )
    }

    /// A presentation as the protocol makes it: the holder's signature over a fresh session transcript, checked
    /// against the credential's holder key by the controller.
    func present(
        _ token: String,
        holder: P256.Signing.PrivateKey? = nil,
        id: String = "c1"
    ) async throws -> AccessDecision {
        try await Self.present(token, holder: holder ?? self.holder, on: controller)
    }

    static func present(
        _ token: String,
        holder: P256.Signing.PrivateKey,
        on controller: DoorController<ManualClock>
    ) async throws -> AccessDecision {
        let transcript = Array("transcript \(UUID())".utf8)
        let signature = try holder.signature(for: transcript)
        return await controller.presentOverSession(
            credential: token,
            holderProofValid: { $0.isValidSignature(signature, for: transcript) },
            peer: "test"
        ).0
    }

    /// Moves time and lets the controller act on it.
    func advance(_ d: Duration) async {
        clock.advance(by: d)
        wall.advance(d)
        await controller.tick()
    }

    func input(_ i: DoorInput, _ active: Bool) async {
        await controller.edge(InputEdge(input: i, active: active))
        await advance(.milliseconds(60))  // past the profile's 50 ms debounce
    }

    func records() async throws -> [AuditRecord] {
        await journal.flush()
        return try journal.records(after: 0, limit: 10_000)
    }
}

final class WallClock: Sendable {
    private let t: Mutex<Date>
    init(_ d: Date) { t = Mutex(d) }
    var now: Date { t.withLock { $0 } }
    func advance(_ d: Duration) {
        t.withLock {
            $0 = $0.addingTimeInterval(Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18)
        }
    }
    func set(_ d: Date) { t.withLock { $0 = d } }
}
