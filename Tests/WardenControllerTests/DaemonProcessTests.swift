import Crypto
import Foundation
import Testing
import WardenController
import WardenCore
import WardenStore
import WardenWire

/// wardend as installers and systemd run it: a real process, its exit codes and messages, signals.
@Suite(.serialized) struct DaemonProcessTests {
    let dir = TempDir()

    func config(board: String? = nil, extra: String = "") -> String {
        _ = dir.write("authority.pub", P256.Signing.PrivateKey().publicKey.pemRepresentation)
        return dir.write(
            "warden.yaml",
            """
            door: {id: front, lock_id: lock-1}
            board: \(board ?? repoRoot.appendingPathComponent("boards/sim.yaml").path)
            site: {time_zone: Europe/Berlin}
            authority_keys: {org-1: authority.pub}
            state_dir: state
            control_socket: control.sock
            \(extra)
            """
        )
    }

    @Test func checkAcceptsShippedBoardsAndAGoodConfig() throws {
        for b in ["rpi4-waveshare-relay.yaml", "rpi5-waveshare-relay.yaml", "rpi-zero2w-relay.yaml", "sim.yaml"] {
            let (code, out, _) = try Binaries.run(
                Binaries.wardend,
                ["--board", repoRoot.appendingPathComponent("boards/\(b)").path, "--check"]
            )
            #expect(code == 0)
            #expect(out.contains(": ok ("))
        }
        let (code, out, _) = try Binaries.run(Binaries.wardend, ["--config", config(), "--check"])
        #expect(code == 0)
        #expect(out.contains("ok (door front, 1 authority key(s)"))
    }

    @Test func badBoardProfileFailsCheckAndStartUpNamingFileKeyAndValue() throws {
        let bad = dir.write(
            "bad-board.yaml",
            """
            name: bad
            chip: sim
            relay: {line: 999, kind: strike}
            inputs: {door_contact: {line: 1}}
            """
        )
        let (code, _, err) = try Binaries.run(Binaries.wardend, ["--board", bad, "--check"])
        #expect(code == 1)
        #expect(err.contains("bad-board.yaml:3: relay.line: 999 is out of range (0...511)"))
        let (code2, _, err2) = try Binaries.run(Binaries.wardend, ["--config", config(board: bad)])
        #expect(code2 == 1, "start-up stops")
        #expect(err2.contains("wardend: cannot start:") && err2.contains("relay.line: 999 is out of range"))
    }

    @Test func badConfigFailsCheckAndStartUp() throws {
        let path = config(extra: "log_levle: debug")
        let (code, _, err) = try Binaries.run(Binaries.wardend, ["--config", path, "--check"])
        #expect(code == 1)
        #expect(err.contains("warden.yaml:7: log_levle: unknown key"))
        let (code2, _, err2) = try Binaries.run(Binaries.wardend, ["--config", path])
        #expect(code2 == 1)
        #expect(err2.contains("log_levle: unknown key"))
        let noKeys = dir.write(
            "nokeys.yaml",
            "door: {id: a, lock_id: b}\nboard: x.yaml\nsite: {time_zone: Mars/Base}\n"
        )
        let (code3, _, err3) = try Binaries.run(Binaries.wardend, ["--config", noKeys, "--check"])
        #expect(code3 == 1)
        #expect(err3.contains("nokeys.yaml:3: site.time_zone: unknown time zone 'Mars/Base'"))
    }

    @Test func sigtermLocksTheRelayAndFlushesTheJournal() async throws {
        let path = config()
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Binaries.wardend)
        p.arguments = ["--config", path]
        p.standardError = FileHandle.nullDevice
        try p.run()
        let sock = dir.path("control.sock")
        for _ in 0..<200 where !FileManager.default.fileExists(atPath: sock) {
            try await Task.sleep(for: .milliseconds(25))
        }
        let watcher = try ControlClient(path: sock)
        try watcher.send(ControlRequest(cmd: "watch"))
        let client = try ControlClient(path: sock)
        #expect(try client.call(ControlRequest(cmd: "sim_input", input: "rex", active: true)).ok)
        var watched: [String] = []
        while watched.count < 2 {
            guard let r = try watcher.receive().record else { continue }
            watched.append("\(r.kind):\(r.reason ?? ""):\(r.detail ?? "")")
        }
        #expect(watched == ["input:rex:pressed", "relay:rex:unlocked"], "watch streams input and relay changes live")
        #expect(try client.call(ControlRequest(cmd: "sim_input", input: "rex", active: false)).ok)
        #expect(try client.call(ControlRequest(cmd: "sim_input", input: "lever", active: true)).ok == false)
        #expect(try client.call(ControlRequest(cmd: "pulse", seconds: 120)).ok)
        #expect(try client.call(ControlRequest(cmd: "status")).status?.relayUnlocked == true)
        let bad = try client.call(ControlRequest(cmd: "pulse", seconds: -3))
        #expect(!bad.ok && bad.error == "pulse seconds must be in (0, 600], got -3.0")
        #expect(try client.call(ControlRequest(cmd: "launch")).error?.hasPrefix("unknown command 'launch'") == true)
        p.terminate()  // SIGTERM
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        let db = try WardenDatabase(path: dir.path("state/warden.sqlite"))
        let records = try AuditJournal(database: db).records(after: 0, limit: 100)
        let tail = records.suffix(2).map {
            "\($0.event.kind.rawValue):\($0.event.reason ?? ""):\($0.event.detail ?? "")"
        }
        #expect(tail == ["relay:shutdown:locked", "daemon:stopped:signal 15"])
        #expect(try AuditChain.verify(records).count == records.count)
    }
}
