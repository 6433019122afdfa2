import Foundation
import Testing
import WardenCore
import WardenTestSupport
import WardenWire

extension CloudStackSuite {
    /// docs/mqtt.md is enough to interoperate: a Python client written from it alone (paho-mqtt) reads a real board's
    /// state and audit, checks the audit hash chain itself, and gets a command it signed executed and answered.
    @Suite(.serialized) struct IndependentClientTests {
        @Test func aPythonClientFromTheDocumentAloneTalksToABoard() async throws {
            let stack = try await CloudStack.start()
            defer { stack.stop() }
            try await stack.startConsumer()
            let board = try await stack.addBoard("lock-p")
            try await waitFor("the board online", timeout: .seconds(10)) { try board.status().accessListVersion == 1 }
            let script = CloudStack.repoRoot.appendingPathComponent("scripts/mqtt-client/warden_mqtt.py").path
            let (code, out) = Command.run(
                "/usr/bin/env",
                [
                    "python3", script, "--port", "\(stack.broker.port)", "--org", CloudStack.org, "--dev", "lock-p",
                    "--authority-key", stack.dir.appendingPathComponent("authority.pem").path, "--kid", CloudStack.kid,
                    "--command", "unlock", "--ms", "4000",
                ]
            )
            #expect(code == 0, "\(out)")
            let line = out.split(separator: "\n").last.map(String.init) ?? ""
            let summary = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            let state = summary?["state"] as? [String: Any]
            let result = summary?["result"] as? [String: Any]
            #expect(state?["lockID"] as? String == "lock-p")
            #expect(result?["code"] as? String == "ok")
            #expect(summary?["chain_ok"] as? Bool == true)
            #expect(summary?["command_audited"] as? Bool == true)
            #expect((summary?["audit_records"] as? Int ?? 0) > 0)
            // The signed command opened the door: its relay record (the pulse may be over on a loaded machine).
            try await waitFor("the command's relay record", timeout: .seconds(10)) {
                try board.journal().contains {
                    $0.event.kind == .relay && $0.event.reason == "manual" && $0.event.detail == "unlocked"
                }
            }
            let commands = try board.journal().filter { $0.event.kind.rawValue == "command" }
            #expect(commands.map(\.event.reason) == ["ok"])
        }
    }
}
