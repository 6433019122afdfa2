import Foundation
import Mosquitto
import Testing
import WardenController
import WardenCore
import WardenTestSupport
import WardenWire

extension CloudStackSuite {
    /// The broker side: per-device identities with the project's ACL (provisioning/mosquitto/warden.acl) and the
    /// board's pinned CA. (A fleet coming back after broker restarts: FleetFailureTests.)
    @Suite(.serialized) struct BrokerTests {
        static let org = CloudStack.org

        @Test func eachBoardReachesOnlyItsOwnTopics() async throws {
            let stack = try await CloudStack.start(authenticatedBoards: ["lock-h", "lock-i"])
            defer { stack.stop() }
            try await stack.startConsumer()
            let h = try await stack.addBoard("lock-h")
            // Through the ACL the board still gets its snapshot, and its audit lands.
            try await waitFor("lock-h's snapshot", timeout: .seconds(10)) { try h.status().accessListVersion == 1 }
            try await CloudEndToEndTests.waitConverged(stack, h)

            // Someone holding lock-i's broker password (a stolen board) goes after lock-h.
            let intruder = try await CloudTester(
                broker: stack.broker,
                clientID: "lock-i",
                username: "lock-i",
                password: stack.identities["lock-i"]
            )
            for filter in ["warden/v1/\(Self.org)/lock-h/cmd", "warden/v1/#"] {
                _ = try? await intruder.client.subscribe(topic: filter)  // refused or granted-but-empty: either way
            }
            let observer = try await CloudTester(
                broker: stack.broker,
                clientID: "observer",
                username: "cloud",
                password: stack.identities["cloud"]
            )
            try await observer.client.subscribe(topic: "warden/v1/\(Self.org)/lock-h/#")
            let h2 = try DeviceTopics(org: Self.org, dev: "lock-h")
            for leaf in [DeviceTopics.Leaf.cmd, .access, .auditAck, .time, .state, .audit, .online] {
                _ = try? await intruder.client.publish(
                    topic: h2.topic(leaf),
                    payload: Array("{\"intruder\":true}".utf8)
                )
            }
            // Positive control: the intruder's connection does read what its own ACL allows (lock-i's command
            // topic), so "reads nothing of lock-h" below is the broker refusing, not a deaf client.
            let i2 = try DeviceTopics(org: Self.org, dev: "lock-i")
            try await intruder.client.subscribe(topic: i2.topic(.cmd))
            try await observer.client.publish(topic: i2.topic(.cmd), payload: Array("control".utf8))
            try await waitFor("lock-i's own command topic", timeout: .seconds(10)) {
                intruder.messages.contains { $0.topic == i2.topic(.cmd) }
            }
            // The cloud sends lock-h a command; its result and state flow as usual.
            try stack.cloudOK(["unlock", "--org", Self.org, "--device", "lock-h", "--seconds", "1"])
            try await waitFor("lock-h's answer", timeout: .seconds(10)) {
                !observer.all(CommandResult.self, on: h2.topic(.cmdResult)).isEmpty
            }
            #expect(!intruder.messages.contains { $0.topic.contains("/lock-h/") }, "lock-i reads nothing of lock-h")
            #expect(
                !observer.messages.contains { String(decoding: $0.payload, as: UTF8.self).contains("intruder") },
                "nothing lock-i published reached lock-h's topics"
            )
            #expect(stack.broker.log.contains("Denied PUBLISH from lock-i"))
            #expect(!(try h.journal().contains { $0.event.detail?.contains("intruder") == true }))
            // No anonymous clients, no wrong passwords.
            let anonymous = try MQTTClient(clientID: "anonymous")
            await #expect(throws: MQTTError.self) {
                try await anonymous.connect(host: stack.broker.host, port: stack.broker.port)
            }
            let guesser = try MQTTClient(clientID: "lock-h")
            try guesser.setCredentials(username: "lock-h", password: "guess")
            await #expect(throws: MQTTError.self) {
                try await guesser.connect(host: stack.broker.host, port: stack.broker.port)
            }
        }

        @Test func boardsPinTheBrokersCertificateAuthority() async throws {
            let stack = try await CloudStack.start(tls: true)
            defer { stack.stop() }
            try await stack.startConsumer()
            let good = try await stack.addBoard("lock-k")
            try await waitFor("lock-k's snapshot over TLS", timeout: .seconds(15)) {
                try good.status().accessListVersion == 1
            }
            try await CloudEndToEndTests.waitConverged(stack, good)
            // A board pinning another CA refuses the broker's certificate (as it would a broker in the middle): it never
            // connects, says why, and keeps deciding offline.
            let other = try TestCA(in: stack.dir, name: "other")
            let pinned = try await stack.addBoard("lock-l", brokerCA: other.caFile)
            // libmosquitto does not always report the refused handshake: the connect attempt's own bound (10 s) does.
            try await waitFor("lock-l's failed TLS connection", timeout: .seconds(30)) {
                pinned.log.contains("cannot reach the broker")
            }
            #expect(!pinned.log.contains("connected to the broker"))
            #expect(try pinned.status().ready)
            #expect(stack.pg.value("SELECT count(*) FROM audit_events WHERE device_id = 'lock-l'") == "0")
        }
    }
}
