import Foundation
import Mosquitto
import Synchronization
import WardenTestSupport
import WardenWire

/// The test standing in for the cloud (or for an attacker with broker access): an MQTT client that publishes
/// whatever the test builds and keeps every message it receives.
final class CloudTester: Sendable {
    let client: MQTTClient
    private final class Inbox: Sendable {
        let messages = Mutex<[MQTTMessage]>([])
    }
    private let received = Inbox()
    private let reader: Task<Void, Never>

    init(
        broker: MosquittoBroker,
        clientID: String = "tester",
        username: String? = nil,
        password: String? = nil
    ) async throws {
        client = try MQTTClient(clientID: clientID)
        if let username { try client.setCredentials(username: username, password: password) }
        let c = client
        let store = received
        reader = Task { for await m in c.messages { store.messages.withLock { $0.append(m) } } }
        try await client.connect(host: broker.host, port: broker.port)
    }

    deinit {
        client.disconnect()
        reader.cancel()
    }

    var messages: [MQTTMessage] { received.messages.withLock { $0 } }

    func publish(_ topic: String, _ value: some Encodable) async throws {
        try await client.publish(topic: topic, payload: WireJSON.encode(value))
    }

    func signed(_ topics: DeviceTopics, _ leaf: DeviceTopics.Leaf, _ jws: String) async throws {
        try await publish(topics.topic(leaf), SignedEnvelope(jws: jws))
    }

    /// Every message received on `topic` that decodes as `T`, in arrival order.
    func all<T: Decodable>(_ type: T.Type, on topic: String) -> [T] {
        messages.filter { $0.topic == topic }.compactMap {
            try? WireJSON.decode(T.self, from: $0.payload, what: "test")
        }
    }

    /// Waits for the first received message on `topic` (after `index`) matching `where`, decoded.
    func next<T: Decodable>(
        _ type: T.Type,
        on topic: String,
        timeout: Duration = .seconds(10),
        where match: (T) -> Bool = { _ in true }
    ) async throws -> T {
        var found: T?
        try await waitFor("a message on \(topic)", timeout: timeout) {
            found = all(T.self, on: topic).first(where: match)
            return found != nil
        }
        return found!
    }
}
