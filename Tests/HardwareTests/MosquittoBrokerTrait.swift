import Testing
import WardenTestSupport

/// Starts one broker around a whole suite and exposes it as `MosquittoBroker.current`.
struct MosquittoBrokerTrait: SuiteTrait, TestScoping {
    var isRecursive: Bool { false }

    func provideScope(
        for test: Test,
        testCase: Test.Case?,
        performing function: @Sendable () async throws -> Void
    ) async throws {
        let broker = try await MosquittoBroker.start()
        defer { broker.stop() }
        try await MosquittoBroker.$current.withValue(broker) {
            try await function()
        }
    }
}

extension Trait where Self == MosquittoBrokerTrait {
    /// A real mosquitto broker for the suite, on a free loopback port.
    static var mosquittoBroker: Self { Self() }
}
