import Foundation
import Mosquitto
import Testing
import WardenTestSupport

/// The libmosquitto wrapper against a real mosquitto broker (one per suite, on a free loopback port): what the board
/// relies on is checked end to end — CONNACK, PUBACK-confirmed QoS 1, bytes intact, retained state, the will on an
/// unclean drop, persistent sessions, and failures that say what to do.
@Suite(.mosquittoBroker)
struct MosquittoClientTests {
    struct Timeout: Error, CustomStringConvertible {
        var description: String
    }

    private func broker() throws -> MosquittoBroker {
        try #require(MosquittoBroker.current, "the .mosquittoBroker trait did not start a broker")
    }

    private func uniqueTopic(_ leaf: String) -> String {
        "warden/test/\(UUID().uuidString)/\(leaf)"
    }

    private func connectedClient(_ role: String) async throws -> MQTTClient {
        let broker = try broker()
        let client = try MQTTClient(clientID: "warden-test-\(role)-\(UUID().uuidString)")
        try await client.connect(host: broker.host, port: broker.port)
        return client
    }

    /// The first message on `topic`, or a failure after `timeout`: never a fixed sleep.
    private func receive(
        _ client: MQTTClient,
        on topic: String,
        within timeout: Duration = .seconds(10)
    ) async throws -> MQTTMessage {
        let message = try await withThrowingTaskGroup(of: MQTTMessage?.self) { group in
            group.addTask {
                for await message in client.messages where message.topic == topic { return message }
                return nil
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            let first = try await group.next() ?? nil
            group.cancelAll()
            return first
        }
        guard let message else {
            throw Timeout(description: "no message on \(topic) within \(timeout); broker log:\n\(try broker().log)")
        }
        return message
    }

    @Test func connectsAndReportsConnectionEvents() async throws {
        let broker = try broker()
        let client = try MQTTClient(clientID: "warden-test-connect-\(UUID().uuidString)")
        var events = client.connectionEvents.makeAsyncIterator()

        let sessionPresent = try await client.connect(host: broker.host, port: broker.port)

        #expect(!sessionPresent)
        #expect(await events.next() == .connected(sessionPresent: false))
        client.disconnect()
        #expect(await events.next() == .disconnected(reasonCode: 0, reason: "disconnected by the client"))
    }

    @Test func qos1RoundTripKeepsPayloadBytes() async throws {
        let topic = uniqueTopic("roundtrip")
        let subscriber = try await connectedClient("sub")
        let publisher = try await connectedClient("pub")
        defer {
            subscriber.disconnect()
            publisher.disconnect()
        }
        #expect(try await subscriber.subscribe(topic: topic, qos: .atLeastOnce) == .atLeastOnce)

        // Zero bytes, high bytes and invalid UTF-8 must all survive: signed frames are binary.
        let payload: [UInt8] = [0x00, 0x01, 0x7F, 0x80, 0xC3, 0x28, 0xFF, 0x00] + Array(#"{"door":"front"}"#.utf8)
        let mid = try await publisher.publish(topic: topic, payload: payload, qos: .atLeastOnce)

        #expect(mid > 0)
        let message = try await receive(subscriber, on: topic)
        #expect(message == MQTTMessage(topic: topic, payload: payload, qos: .atLeastOnce, retain: false))
    }

    /// The MQTT 5 properties the contract uses (docs/mqtt.md) cross a real broker intact: correlation data (binary),
    /// response topic, user properties in order with a repeated name, and message expiry (the broker sends what is
    /// left of it).
    @Test func v5PropertiesReachTheSubscriber() async throws {
        let topic = uniqueTopic("props")
        let subscriber = try await connectedClient("sub")
        let publisher = try await connectedClient("pub")
        defer {
            subscriber.disconnect()
            publisher.disconnect()
        }
        try await subscriber.subscribe(topic: topic, qos: .atLeastOnce)
        let sent = MQTTProperties(
            messageExpiry: 60,
            correlationData: [0x00, 0xFF, 0x10, 0x80],
            responseTopic: topic + "/reply",
            userProperties: [.init("kind", "audit"), .init("v", "1"), .init("kind", "second")]
        )
        try await publisher.publish(topic: topic, payload: Array("{}".utf8), qos: .atLeastOnce, properties: sent)
        let message = try await receive(subscriber, on: topic)
        #expect(message.properties.correlationData == sent.correlationData)
        #expect(message.properties.responseTopic == sent.responseTopic)
        #expect(message.properties.userProperties == sent.userProperties)
        let left = try #require(message.properties.messageExpiry)
        #expect(left > 0 && left <= 60, "expiry left: \(left)")

        try await publisher.publish(topic: topic, payload: [1], qos: .atLeastOnce)
        #expect(try await receive(subscriber, on: topic).properties == MQTTProperties(), "no properties, none invented")
    }

    @Test func retainedMessageReachesALateSubscriber() async throws {
        let topic = uniqueTopic("state")
        let publisher = try await connectedClient("retain-pub")
        defer { publisher.disconnect() }
        // Returning means the broker sent PUBACK, so it has stored the retained message.
        try await publisher.publish(topic: topic, payload: Array("locked".utf8), qos: .atLeastOnce, retain: true)

        let late = try await connectedClient("retain-late")
        defer { late.disconnect() }
        try await late.subscribe(topic: topic)

        let message = try await receive(late, on: topic)
        #expect(message.retain)
        #expect(message.payload == Array("locked".utf8))
    }

    @Test func willIsPublishedWhenTheConnectionDropsUncleanly() async throws {
        let broker = try broker()
        let topic = uniqueTopic("status")
        let observer = try await connectedClient("will-observer")
        defer { observer.disconnect() }
        try await observer.subscribe(topic: topic)

        let door = try MQTTClient(clientID: "warden-test-will-door-\(UUID().uuidString)")
        try door.setWill(topic: topic, payload: Array("offline".utf8), qos: .atLeastOnce, retain: false)
        try await door.connect(host: broker.host, port: broker.port)
        defer { door.disconnect() }

        door.simulateConnectionLoss()

        let will = try await receive(observer, on: topic)
        #expect(will.payload == Array("offline".utf8))
    }

    @Test func cleanDisconnectDoesNotPublishTheWill() async throws {
        let broker = try broker()
        let topic = uniqueTopic("status")
        let observer = try await connectedClient("nowill-observer")
        defer { observer.disconnect() }
        try await observer.subscribe(topic: topic)

        let door = try MQTTClient(clientID: "warden-test-nowill-door-\(UUID().uuidString)")
        try door.setWill(topic: topic, payload: Array("offline".utf8), qos: .atLeastOnce, retain: false)
        try await door.connect(host: broker.host, port: broker.port)
        door.disconnect()

        // A will would be queued before this marker, which is sent after the DISCONNECT reached the broker.
        try await observer.publish(topic: topic, payload: Array("marker".utf8), qos: .atLeastOnce)
        let first = try await receive(observer, on: topic)
        #expect(first.payload == Array("marker".utf8))
    }

    @Test func persistentSessionKeepsSubscriptionAndQueuedMessages() async throws {
        let broker = try broker()
        let topic = uniqueTopic("grants")
        let id = "warden-test-session-\(UUID().uuidString)"

        let first = try MQTTClient(clientID: id, cleanStart: false, sessionExpiry: .seconds(60))
        #expect(try await first.connect(host: broker.host, port: broker.port) == false)
        try await first.subscribe(topic: topic, qos: .atLeastOnce)
        first.disconnect()

        // Published while the board is offline: the broker queues it in the session.
        let cloud = try await connectedClient("session-cloud")
        defer { cloud.disconnect() }
        try await cloud.publish(topic: topic, payload: [1, 2, 3], qos: .atLeastOnce)

        let second = try MQTTClient(clientID: id, cleanStart: false, sessionExpiry: .seconds(60))
        defer { second.disconnect() }
        #expect(try await second.connect(host: broker.host, port: broker.port) == true)
        let queued = try await receive(second, on: topic)
        #expect(queued.payload == [1, 2, 3])
    }

    @Test func connectingToAClosedPortFailsClearly() async throws {
        let port = try MosquittoBroker.freeLoopbackPort()
        let client = try MQTTClient(clientID: "warden-test-refused-\(UUID().uuidString)")
        do {
            try await client.connect(host: "127.0.0.1", port: port)
            Issue.record("connected to a port nobody listens on")
        } catch {
            #expect(error.code == .connectionFailed)
            #expect(error.message.contains("connecting to 127.0.0.1:\(port)"))
            #expect(error.message.contains("Connection refused"))
            #expect(error.message.contains("is the broker running"))
        }
    }

    @Test func aListenerThatNeverAnswersFailsTheConnectWithinItsBound() async throws {
        // A socket that accepts TCP (the kernel's backlog) but never speaks MQTT, as a stalled broker or a TLS
        // handshake nobody reports would: connect gives up at its bound instead of waiting for ever.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #expect(fd >= 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && listen(fd, 4) == 0 }
        }
        #expect(bound)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        let port = Int(UInt16(bigEndian: address.sin_port))
        let client = try MQTTClient(clientID: "warden-test-silent-\(UUID().uuidString)")
        do {
            try await client.connect(host: "127.0.0.1", port: port, timeout: .milliseconds(500))
            Issue.record("connected to a listener that never answers")
        } catch {
            #expect(error.code == .connectionFailed)
            #expect(error.message.contains("no answer from the broker"))
        }
        // The client is usable again afterwards (the attempt's network thread was stopped).
        let broker = try broker()
        try await client.connect(host: broker.host, port: broker.port)
        client.disconnect()
    }

    @Test func subscribingBeforeConnectingFailsClearly() async throws {
        let client = try MQTTClient(clientID: "warden-test-offline-\(UUID().uuidString)")
        do {
            try await client.subscribe(topic: "warden/test/offline")
            Issue.record("subscribed without a connection")
        } catch {
            #expect(error.code == .notConnected)
            #expect(error.message.contains("call connect first"))
        }
    }
}
