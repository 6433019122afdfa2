import Crypto
import Foundation
import Testing
import WardenController
import WardenCore
import WardenProtocol
import WardenStore
import WardenWire

#if canImport(Glibc)
import Glibc
#endif

/// How wardend stops, as an operator and systemd see it: signals during start-up, SIGKILL mid-pulse and in passage
/// mode, `wardenctl relay-safe` (the unit's ExecStopPost) with a broken config, READY and the sockets it leaves.
@Suite(.serialized) struct DaemonStopTests {
    let dir = TempDir()

    func config(extra: String = "", identity: Bool = false) throws -> String {
        let authority = P256.Signing.PrivateKey()
        _ = dir.write("authority.pub", authority.publicKey.pemRepresentation)
        var id = ""
        if identity {
            let device = P256.Signing.PrivateKey()
            let keyPath = dir.write("device.pem", device.pemRepresentation)
            chmod(keyPath, 0o600)
            let now = UInt64(Date().timeIntervalSince1970)
            let cert = try LockCertificate.issue(
                lockID: "lock-1",
                deviceKey: device.publicKey,
                notBefore: now - 60,
                notAfter: now + 86_400,
                keyID: "org-1",
                authority: authority
            )
            _ = dir.write("lock.cert", Data(cert.bytes).base64EncodedString())
            id =
                "identity: {device_key: device.pem, lock_certificate: lock.cert}\npresentation: {unix: present.sock, ble: false}"
        }
        return dir.write(
            "warden.yaml",
            """
            door: {id: front, lock_id: lock-1}
            board: \(repoRoot.appendingPathComponent("boards/sim.yaml").path)
            site: {time_zone: Europe/Berlin}
            authority_keys: {org-1: authority.pub}
            state_dir: state
            control_socket: control.sock
            \(id)
            \(extra)
            """
        )
    }

    func start(_ path: String) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Binaries.wardend)
        p.arguments = ["--config", path]
        p.standardError = FileHandle.nullDevice
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        return p
    }

    func waitReady() async throws -> ControlClient {
        let sock = dir.path("control.sock")
        for _ in 0..<400 {
            if FileManager.default.fileExists(atPath: sock), let c = try? ControlClient(path: sock),
                let s = try? c.call(ControlRequest(cmd: "status")).status, s.ready
            {
                return c
            }
            try await Task.sleep(for: .milliseconds(25))
        }
        throw CLITestError("wardend did not become ready")
    }

    func records() throws -> [String] {
        let db = try WardenDatabase(path: dir.path("state/warden.sqlite"))
        return try AuditJournal(database: db).records(after: 0, limit: 10_000).map {
            [$0.event.kind.rawValue, $0.event.reason ?? ""].joined(separator: ":")
        }
    }

    /// Whether `pid` catches SIGTERM (its watcher is installed: from then on the signal is wardend's to handle).
    static func catchesSIGTERM(_ pid: Int32) -> Bool {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("SigCgt:") }),
            let mask = UInt64(line.split(separator: "\t").last ?? "", radix: 16)
        else { return false }
        return mask & (1 << (UInt64(SIGTERM) - 1)) != 0
    }

    /// A SIGTERM at any moment of start-up (from wardend's first line, where it starts watching signals, until it is
    /// ready) ends in an orderly exit (status 0), never in death by the signal.
    @Test func sigtermDuringStartUpStillExitsInOrder() async throws {
        let path = try config(identity: true)
        for delayMs in [0, 1, 3, 6, 10, 20, 40, 80] {
            let p = try start(path)
            while p.isRunning && !Self.catchesSIGTERM(p.processIdentifier) { usleep(200) }
            try await Task.sleep(for: .milliseconds(delayMs))
            kill(p.processIdentifier, SIGTERM)
            p.waitUntilExit()
            #expect(p.terminationReason == .exit, "delay \(delayMs) ms: killed by the signal instead of stopping")
            #expect(p.terminationStatus == 0, "delay \(delayMs) ms: exit \(p.terminationStatus)")
        }
        #expect(
            !FileManager.default.fileExists(atPath: dir.path("present.sock")),
            "the presentation socket is removed on stop"
        )
    }

    /// SIGKILL in the middle of a pulse and in passage mode: the next start says the previous run ended without a
    /// stop record and that the relay was driven locked, right after the last record of the killed run.
    @Test func anUncleanStopIsVisibleAtTheNextStart() async throws {
        let path = try config()
        for command in [ControlRequest(cmd: "pulse", seconds: 120), ControlRequest(cmd: "passage", mode: "on")] {
            let p = try start(path)
            defer { if p.isRunning { kill(p.processIdentifier, SIGKILL) } }
            let client = try await waitReady()
            #expect(try client.call(command).ok)
            #expect(try client.call(ControlRequest(cmd: "status")).status?.relayUnlocked == true)
            // The unlock record on disk before the kill: polled, since the real daemon's journal has no clock to drive.
            var durable = false
            for _ in 0..<200 where !durable {
                let s = try client.call(ControlRequest(cmd: "status")).status
                durable = (s?.auditDurableSeq ?? 0) >= (s?.auditLastSeq ?? 1)
                if !durable { try await Task.sleep(for: .milliseconds(10)) }
            }
            #expect(durable, "the unlock record reached the disk within 2 s")
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            let before = try records()
            #expect(
                before.last?.hasPrefix("relay:") == true || before.last?.hasPrefix("mode:") == true,
                "\(before.suffix(3))"
            )

            let again = try start(path)
            defer { if again.isRunning { kill(again.processIdentifier, SIGKILL) } }
            _ = try await waitReady()
            var after = try records()
            for _ in 0..<100 where after.count < before.count + 2 {
                try await Task.sleep(for: .milliseconds(20))
                after = try records()
            }
            try #require(after.count >= before.count + 2, "\(after.suffix(4))")
            #expect(after[before.count] == "daemon:unclean_stop", "\(after.suffix(4))")
            #expect(after[before.count + 1] == "daemon:started")
            again.terminate()
            again.waitUntilExit()
            #expect(again.terminationStatus == 0)
            #expect(try records().last == "daemon:stopped", "a clean stop leaves no unclean_stop next time")
        }
    }

    /// The unit's ExecStopPost: a config whose key and certificate are broken must not stop it.
    @Test func relaySafeNeedsOnlyTheBoardProfile() throws {
        let path = dir.write(
            "broken.yaml",
            """
            door: {id: front, lock_id: lock-1}
            board: \(repoRoot.appendingPathComponent("boards/sim.yaml").path)
            site: {time_zone: Nowhere/Atlantis}
            authority_keys: {org-1: missing.pub}
            identity: {device_key: missing.pem, lock_certificate: garbage.cert}
            unknown_key: 1
            """
        )
        #expect(throws: (any Error).self) { try WardenConfig.load(path: path) }
        let (code, out, err) = try Binaries.run(Binaries.wardenctl, ["relay-safe", "--config", path])
        #expect(code == 0, "\(err)")
        #expect(out.contains("set to locked"))
        let noBoard = dir.write("noboard.yaml", "door: {id: front}\n")
        let (code2, _, err2) = try Binaries.run(Binaries.wardenctl, ["relay-safe", "--config", noBoard])
        #expect(code2 != 0)
        #expect(err2.contains("no readable `board:`") && err2.contains("--board"))
    }
}

struct CLITestError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
