import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Synchronization
import Testing
import WardenCloud

extension CloudAPISuite {
    /// Webhooks against a real HTTP receiver on loopback: an alarm stored in PostgreSQL reaches it signed, after the
    /// receiver's first two refusals (retried with doubling waits, each attempt logged); Slack's format; a test send;
    /// the signature refuses a tampered body and an old timestamp.
    @Suite struct WebhookTests {
        final class Receiver: Sendable {
            struct Hit: Sendable {
                var path: String
                var headers: [String: String]
                var body: [UInt8]
            }
            let hits = Mutex<[Hit]>([])
            let refusals = Mutex(2)
            let port = Mutex<Int?>(nil)
            var received: [Hit] { hits.withLock { $0 } }
        }

        static func startReceiver(_ receiver: Receiver) async throws -> Task<Void, any Error> {
            let router = Router()
            router.post("{path}") { request, context -> Response in
                let body = try await request.body.collect(upTo: 65536)
                var headers: [String: String] = [:]
                for field in request.headers { headers[field.name.canonicalName] = field.value }  // lower case
                let path = context.parameters.get("path") ?? ""
                let refuse =
                    path == "hook"
                    && receiver.refusals.withLock { n in
                        defer { n = max(0, n - 1) }
                        return n > 0
                    }
                // Only deliveries that were answered 2xx count as received.
                if refuse { return Response(status: .internalServerError) }
                receiver.hits.withLock { $0.append(.init(path: path, headers: headers, body: Array(buffer: body))) }
                return Response(status: .noContent)
            }
            let app = Application(
                router: router,
                configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                onServerRunning: { channel in receiver.port.withLock { $0 = channel.localAddress?.port } },
                logger: {
                    // Quiet: the receiver is cancelled at the end, and Hummingbird logs that as an error.
                    var logger = Logger(label: "receiver")
                    logger.logLevel = .critical
                    return logger
                }()
            )
            let task = Task { try await app.runService() }
            try await waitUntil("the receiver listens") { receiver.port.withLock { $0 } != nil }
            return task
        }

        static func waitUntil(
            _ what: String,
            timeout: Duration = .seconds(20),
            _ done: () async throws -> Bool
        ) async throws {
            let deadline = ContinuousClock.now + timeout
            while try await !done() {
                guard ContinuousClock.now < deadline else {
                    throw APIFixture.SetUpFailed(description: "timed out: \(what)")
                }
                try await Task.sleep(for: .milliseconds(50))
            }
        }

        @Test func alarmsReachTheReceiverSignedAndRetried() async throws {
            let fx = try await APIFixture()
            let receiver = Receiver()
            let server = try await Self.startReceiver(receiver)
            defer { server.cancel() }
            let port = try #require(receiver.port.withLock { $0 })
            let service = WebhookService(
                db: fx.runtime.store.client,
                logger: fx.logger,
                interval: .milliseconds(100),
                baseDelay: .milliseconds(100),
                maxAttempts: 5
            )
            let running = Task { try await service.run() }
            defer { running.cancel() }
            try await fx.run { api in
                let hook = try await api.post(
                    "/v1/webhooks",
                    #"{"url":"http://127.0.0.1:\#(port)/hook","events":["alarm","decision"]}"#
                )
                #expect(hook.status == .created, "\(hook.body)")
                let secret = try #require(hook.object["secret"] as? String)
                let hookID = try #require(hook.object["id"] as? String)
                let slack = try await api.post(
                    "/v1/webhooks",
                    #"{"url":"http://127.0.0.1:\#(port)/slack","events":["alarm"],"format":"slack"}"#
                )
                #expect(slack.status == .created)
                #expect(
                    try await api.get("/v1/webhooks").items.allSatisfy { $0["secret"] == nil },
                    "the secret is shown once"
                )
                #expect(try await api.get("/v1/webhooks", as: "vic").status == .forbidden)
                #expect(try await api.get("/v1/webhooks/\(hookID)/deliveries", as: "gus").status == .notFound)
                for (body, field) in [
                    (#"{"url":"ftp://x.example/"}"#, "url"), (#"{"url":"http://u:p@x.example/"}"#, "url"),
                    (#"{"url":"https://x.example/","events":["everything"]}"#, "events"),
                    (#"{"url":"https://x.example/","format":"teams"}"#, "format"),
                ] {
                    #expect(try await api.post("/v1/webhooks", body).field == field, "\(body)")
                }

                // A forced-open alarm, stored as the consumer stores it.
                _ = fx.sql(
                    """
                    INSERT INTO audit_events (org_id, device_id, seq, at, at_ms, kind, door_id, reason, prev_hash, hash)
                    VALUES ('acme', 'board-front', 1, now(), (extract(epoch FROM now()) * 1000)::bigint, 'alarm', 'front',
                        'forced_open', '\\x00', '\\x00')
                    """
                )
                try await Self.waitUntil("the alarm reaches both receivers") {
                    Set(receiver.received.map(\.path)) == ["hook", "slack"]
                }
                let hit = try #require(receiver.received.first { $0.path == "hook" })
                let signature = try #require(hit.headers["warden-signature"])
                try WebhookSignature.verify(signature, body: hit.body, secret: secret, now: Date())
                #expect(throws: WebhookSignature.Failure.mismatch) {
                    try WebhookSignature.verify(signature, body: hit.body + [0x20], secret: secret, now: Date())
                }
                #expect(throws: WebhookSignature.Failure.stale) {
                    try WebhookSignature.verify(
                        signature,
                        body: hit.body,
                        secret: secret,
                        now: Date().addingTimeInterval(600)
                    )
                }
                #expect(throws: WebhookSignature.Failure.mismatch) {
                    try WebhookSignature.verify(signature, body: hit.body, secret: "whsec_other", now: Date())
                }
                let payload = try #require(try JSONSerialization.jsonObject(with: Data(hit.body)) as? [String: Any])
                #expect(payload["type"] as? String == "alarm" && payload["org"] as? String == "acme")
                #expect((payload["data"] as? [String: Any])?["reason"] as? String == "forced_open")
                #expect(hit.headers["warden-event"] == "alarm" && hit.headers["warden-delivery"] != nil)
                let slackHit = try #require(receiver.received.first { $0.path == "slack" })
                #expect(
                    String(decoding: slackHit.body, as: UTF8.self) == #"{"text":"Warden alarm at front: forced_open"}"#
                )

                let log = try await api.get("/v1/webhooks/\(hookID)/deliveries")
                let first = try #require(log.items.first)
                #expect(first["status"] as? String == "delivered" && first["attempts"] as? Int == 3, "\(log.body)")
                #expect(first["last_status"] as? Int == 204)

                let test = try await api.post("/v1/webhooks/\(hookID)/test")
                #expect(test.status == .accepted, "\(test.body)")
                try await Self.waitUntil("the test delivery arrives") {
                    receiver.received.contains { $0.headers["warden-event"] == "test" }
                }
                #expect(try await api.call(.delete, "/v1/webhooks/\(hookID)").status == .noContent)
                #expect(try await api.get("/v1/webhooks/\(hookID)/deliveries").status == .notFound)
            }
            #expect(
                fx.sql("SELECT count(*) FROM webhook_deliveries WHERE webhook_id NOT IN (SELECT id FROM webhooks)")
                    == "0"
            )
        }
    }
}
