import Crypto
import Foundation
import Logging
import WardenAuthority
import WardenController
import WardenCore
import WardenKey
import WardenProtocol
import WardenStore
import WardenWire

// warden-bench: decision latency with 100,000 stored credentials, on the real store and controller, simulated relay.
//   1. verified -> relay: from a signature-checked credential to the relay write (policy, time, schedule, the
//      in-memory access-list lookup, state machine, relay) — the target is p99 < 1 ms;
//   2. the full presentation (JWS parse + ES256 authority check + holder proof + the above), for comparison;
//   3. wardend's resident memory with the 100,000-credential store (`--rss`, needs a built wardend).
// Run: make bench  (release build). Results go to docs/benchmarks.md by hand, with the machine.

final class TimedIO: DoorIO, @unchecked Sendable {
    // Written only from the controller actor; read by the harness after the awaited call returns.
    var lastWrite: ContinuousClock.Instant?
    let edges = AsyncStream<InputEdge> { _ in }
    func setRelay(energized: Bool) throws { lastWrite = ContinuousClock.now }
    func setLED(on: Bool) throws {}
    func readInputs() throws -> [DoorInput: Bool] { [.doorContact: true] }
    func close() {}
}

func percentile(_ sorted: [Double], _ p: Double) -> Double {
    sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
}

func micros(_ d: Duration) -> Double { Double(d.components.seconds) * 1e6 + Double(d.components.attoseconds) / 1e12 }

func report(_ name: String, _ samples: [Double]) {
    let s = samples.sorted()
    print(
        String(
            format: "%@: n=%d p50=%.1f µs p99=%.1f µs max=%.1f µs",
            name,
            s.count,
            percentile(s, 0.5),
            percentile(s, 0.99),
            s.last!
        )
    )
}

LoggingSystem.bootstrap { _ in SwiftLogNoOpLogHandler() }
let args = CommandLine.arguments
let credentialCount = 100_000
let iterations = 5_000
let dir = FileManager.default.temporaryDirectory.appendingPathComponent("warden-bench-\(UUID().uuidString)")
try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: dir) }

/// `--flag VALUE`, or nil.
func option(_ flag: String) -> String? {
    guard let i = args.firstIndex(of: flag), i + 1 < args.count else { return nil }
    return args[i + 1]
}

// `--authority-key PEM --kid K`: the org authority of a running warden-cloud (scripts/bench-sync-rss); else a fresh one.
let authority: CredentialIssuer
if let keyFile = option("--authority-key") {
    authority = CredentialIssuer(
        keyID: option("--kid") ?? "org-1",
        privateKey: try P256.Signing.PrivateKey(pemRepresentation: try String(contentsOfFile: keyFile, encoding: .utf8))
    )
} else {
    authority = CredentialIssuer(keyID: "org-1", privateKey: P256.Signing.PrivateKey())
}
// `--sync HOST:PORT --sync-ca CA.pem --sync-org ORG`: wardend also syncs with that broker over TLS (the CA pinned).
let syncSection: String
if let broker = option("--sync") {
    let ca = option("--sync-ca").map { ", tls: {ca: \($0)}" } ?? ""
    syncSection = "sync: {org: \(option("--sync-org") ?? "acme"), broker: \"\(broker)\"\(ca)}\n"
} else {
    syncSection = ""
}
try authority.privateKey.publicKey.pemRepresentation.write(
    to: dir.appendingPathComponent("authority.pub"),
    atomically: true,
    encoding: .utf8
)
// The lock identity, so `--rss` presents over the key-presentation protocol (the one way in).
let device = P256.Signing.PrivateKey()
let devicePath = dir.appendingPathComponent("device.pem").path
_ = FileManager.default.createFile(
    atPath: devicePath,
    contents: Data(device.pemRepresentation.utf8),
    attributes: [.posixPermissions: 0o600]
)
let now = UInt64(Date().timeIntervalSince1970)
let lockCert = try LockCertificate.issue(
    lockID: "lock-1",
    deviceKey: device.publicKey,
    notBefore: now - 3600,
    notAfter: now + 86_400,
    keyID: authority.keyID,
    authority: authority.privateKey
)
try Data(lockCert.bytes).base64EncodedString().write(
    to: dir.appendingPathComponent("lock.cert"),
    atomically: true,
    encoding: .utf8
)
let configPath = dir.appendingPathComponent("warden.yaml").path
let boards = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("boards/sim.yaml").path
try """
door: {id: front, lock_id: lock-1}
board: \(boards)
site: {time_zone: Europe/Berlin}
authority_keys: {\(authority.keyID): authority.pub}
state_dir: state
control_socket: control.sock
identity: {device_key: device.pem, lock_certificate: lock.cert}
presentation: {unix: present.sock, ble: false}
\(syncSection)
""".write(toFile: configPath, atomically: true, encoding: .utf8)
let config = try WardenConfig.load(path: configPath)
try FileManager.default.createDirectory(atPath: config.stateDir, withIntermediateDirectories: true)
let db = try WardenDatabase(path: config.databasePath)
let loadStart = ContinuousClock.now
try db.apply(
    AccessListUpdate(
        issuer: "org",
        doors: ["front"],
        version: 1,
        base: nil,
        snapshot: true,
        grant: (0..<credentialCount).map { .init(id: "cred-\($0)", user: "user-\($0)") },
        revoke: [],
        issuedAt: Date()
    ),
    scope: DoorScope(doorID: "front")
)
print("stored \(try db.accessListCounts().active) credentials in \(ContinuousClock.now - loadStart)")

if args.contains("--rss") {
    // wardend with this state: start it, present once, read VmRSS.
    let bin = URL(fileURLWithPath: args[0]).deletingLastPathComponent().appendingPathComponent("wardend").path
    let p = Process()
    p.executableURL = URL(fileURLWithPath: bin)
    p.arguments = ["--config", configPath]
    p.standardError = FileHandle.nullDevice
    try p.run()
    let sock = dir.appendingPathComponent("control.sock").path
    for _ in 0..<400 where !FileManager.default.fileExists(atPath: sock) {
        try await Task.sleep(for: .milliseconds(25))
    }
    let present = dir.appendingPathComponent("present.sock").path
    for _ in 0..<400 where !FileManager.default.fileExists(atPath: present) {
        try await Task.sleep(for: .milliseconds(25))
    }
    var granted = 0
    for i in 0..<200 {
        let holder = P256.Signing.PrivateKey()
        let token = try await authority.sign(
            CredentialClaims(
                issuer: "org",
                userID: "u",
                credentialID: "cred-\(i * 397)",
                issuedAt: Date(),
                notBefore: Date().addingTimeInterval(-60),
                expires: Date().addingTimeInterval(3600),
                holderKey: holder.publicKey,
                doors: ["front"]
            )
        )
        let channel = try SocketFrameChannel.connect(unix: present)
        let key = PhoneKey(
            lockID: "lock-1",
            credential: token,
            holder: holder,
            authority: [authority.keyID: authority.privateKey.publicKey]
        )
        if try await key.present(over: channel, now: UInt64(Date().timeIntervalSince1970)).outcome.granted {
            granted += 1
        }
        channel.close()
        try await Task.sleep(for: .milliseconds(20))  // under the lock's per-second session budget
    }
    guard granted == 200 else { fatalError("only \(granted) of 200 presentations were granted") }
    if !syncSection.isEmpty {
        // Let the upload of those decisions and their acknowledgements run before reading the memory.
        try await Task.sleep(for: .seconds(5))
    }
    let status = try String(contentsOfFile: "/proc/\(p.processIdentifier)/status", encoding: .utf8)
    let rss = status.split(separator: "\n").first { $0.hasPrefix("VmRSS") } ?? "?"
    let hwm = status.split(separator: "\n").first { $0.hasPrefix("VmHWM") } ?? "?"
    print(
        "wardend with \(credentialCount) credentials after 200 presentations\(syncSection.isEmpty ? "" : option("--sync-ca") == nil ? ", syncing over plain TCP" : ", syncing over TLS"): \(rss.replacingOccurrences(of: "\t", with: " ")), peak \(hwm.replacingOccurrences(of: "\t", with: " "))"
    )
    p.terminate()
    p.waitUntilExit()
    exit(0)
}

let io = TimedIO()
let journal = try AuditJournal(database: db)
let journalTask = Task { await journal.run() }
let controller = try DoorController(
    config: config,
    profile: try BoardProfile.load(path: config.boardPath),
    io: io,
    database: db,
    journal: journal,
    clock: ContinuousClock()
)
await controller.run()

// Credentials spread over the stored ids, verified up front (this part measures what follows verification).
let holder = P256.Signing.PrivateKey()
var tokens: [String] = []
for i in 0..<200 {
    tokens.append(
        try await authority.sign(
            CredentialClaims(
                issuer: "org",
                userID: "user-\(i)",
                credentialID: "cred-\((i * 499) % credentialCount)",
                issuedAt: Date(),
                notBefore: Date().addingTimeInterval(-60),
                expires: Date().addingTimeInterval(3600),
                holderKey: holder.publicKey,
                doors: ["front"],
                schedule: WeeklySchedule(windows: [
                    ScheduleWindow(
                        days: Weekday.allCases,
                        start: try LocalTime(parsing: "00:00"),
                        end: try LocalTime(parsing: "24:00")
                    )
                ])
            )
        )
    )
}
let verifier = CredentialVerifier(authority: authority.publicKeySet)
let credentials = try tokens.map { try verifier.verify($0) }

if args.contains("--protocol") {
    try await ProtocolBench.run(controller: controller, io: io, authority: authority, lockID: "lock-1")
    journal.finish()
    await journalTask.value
    exit(0)
}

var verifiedToRelay: [Double] = []
for i in 0..<iterations {
    let cred = credentials[i % credentials.count]
    let t0 = ContinuousClock.now
    let d = await controller.decide(cred)
    guard d.isGranted, let t1 = io.lastWrite else { fatalError("expected a grant: \(d)") }
    verifiedToRelay.append(micros(t0.duration(to: t1)))
    await controller.setLockdown(true)  // relock outside the timed part
    await controller.setLockdown(false)
}
report("verified credential -> relay written (100k stored)", verifiedToRelay)

var fullPresentation: [Double] = []
for i in 0..<2_000 {
    let token = tokens[i % tokens.count]
    // The holder's transcript signature, as a session would check it (a fresh message each time).
    let transcript = (0..<32).map { _ in UInt8.random(in: 0...255) }
    let signature = try holder.signature(for: transcript)
    let t0 = ContinuousClock.now
    let (d, _, _) = await controller.presentOverSession(
        credential: token,
        holderProofValid: { $0.isValidSignature(signature, for: transcript) },
        peer: "bench"
    )
    guard d.isGranted, let t1 = io.lastWrite else { fatalError("expected a grant: \(d)") }
    fullPresentation.append(micros(t0.duration(to: t1)))
    await controller.setLockdown(true)
    await controller.setLockdown(false)
}
report("full presentation (JWS + ES256 authority + ES256 holder proof) -> relay written", fullPresentation)

var lookups: [Double] = []
for i in 0..<iterations {
    let t0 = ContinuousClock.now
    _ = try db.listStatus(credentialID: "cred-\((i * 7919) % credentialCount)")
    lookups.append(micros(ContinuousClock.now - t0))
}
report("access-list lookup by credential id alone (SQLite, before issue 5's index)", lookups)

let indexLoadStart = ContinuousClock.now
let index = try db.accessListIndex()
print(
    "in-memory access-list index: loaded \(index.activeCount) active ids in \(ContinuousClock.now - indexLoadStart), \(index.activeCount * 8 / 1024) KiB of hashes"
)
var indexLookups: [Double] = []
for i in 0..<iterations {
    let t0 = ContinuousClock.now
    _ = index.status(of: "cred-\((i * 7919) % credentialCount)")
    indexLookups.append(micros(ContinuousClock.now - t0))
}
report("access-list lookup by credential id alone (in-memory index, the decision path)", indexLookups)
await journal.flush()
print("journal: \(try journal.count()) records durable")
journal.finish()
await journalTask.value
