import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import ServiceLifecycleTestKit
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
            let slowStarted = Mutex(false)
            var received: [Hit] { hits.withLock { $0 } }
        }

        final class Flag: Sendable {
            private let value = Mutex(false)
            func set() { value.withLock { $0 = true } }
            var isSet: Bool { value.withLock { $0 } }
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
                if path == "moved" {
                    let port = receiver.port.withLock { $0 } ?? 0
                    return Response(status: .found, headers: [.location: "http://127.0.0.1:\(port)/hook"])
                }
                if path == "slow" {
                    receiver.slowStarted.withLock { $0 = true }
                    try await Task.sleep(for: .seconds(120))
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
                _ = await fx.sql(
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
                    String(decoding: slackHit.body, as: UTF8.self)
                        == #"{"text":"Warden alarm at Front door: forced open"}"#
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
                await fx.sql(
                    "SELECT count(*) FROM webhook_deliveries WHERE webhook_id NOT IN (SELECT id FROM webhooks)"
                )
                    == "0"
            )
        }
        /// A receiver's failures are answers, not waits: a closed port fails the attempt at once (no re-dialling
        /// until the deadline) with the reason in the log, a redirect is recorded and never followed, and a stop
        /// does not wait for a receiver that holds the request open.
        @Test func aClosedPortOrARedirectFailsTheAttemptAndAStopWaitsForNoReceiver() async throws {
            let fx = try await APIFixture()
            let receiver = Receiver()
            let server = try await Self.startReceiver(receiver)
            defer { server.cancel() }
            let port = try #require(receiver.port.withLock { $0 })
            let closed = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .bind(host: "127.0.0.1", port: 0).get()
            let closedPort = try #require(closed.localAddress?.port)
            try await closed.close()

            let service = WebhookService(
                db: fx.runtime.store.client,
                logger: fx.logger,
                interval: .milliseconds(100),
                baseDelay: .seconds(600),
                maxAttempts: 5,
                connectTimeout: .seconds(120)
            )
            try await testGracefulShutdown { shutdown in
                let stopped = Flag()
                let running = Task {
                    defer { stopped.set() }
                    try await service.run()
                }
                defer { running.cancel() }
                try await fx.run { api in
                    var hooks: [String: String] = [:]
                    for (name, url) in [
                        ("closed", "http://127.0.0.1:\(closedPort)/hook"), ("moved", "http://127.0.0.1:\(port)/moved"),
                    ] {
                        let hook = try await api.post("/v1/webhooks", #"{"url":"\#(url)"}"#)
                        hooks[name] = try #require(hook.object["id"] as? String, "\(hook.body)")
                        #expect(try await api.post("/v1/webhooks/\(hooks[name]!)/test").status == .accepted)
                    }
                    func lastAttempt(_ name: String) async throws -> [String: Any]? {
                        let first = try await api.get("/v1/webhooks/\(hooks[name]!)/deliveries").items.first
                        return (first?["attempts"] as? Int ?? 0) >= 1 && first?["status"] as? String == "pending"
                            ? first : nil
                    }
                    // Within 8 s, short of the 10 s request deadline that re-dialling a closed port would use up.
                    try await Self.waitUntil("both tests are tried once", timeout: .seconds(8)) {
                        let closedTried = try await lastAttempt("closed") != nil
                        let movedTried = try await lastAttempt("moved") != nil
                        return closedTried && movedTried
                    }
                    let refused = try #require(try await lastAttempt("closed"))
                    #expect(refused["last_status"] == nil || refused["last_status"] is NSNull, "\(refused)")
                    let why = refused["last_error"] as? String ?? ""
                    #expect(why.localizedCaseInsensitiveContains("refused"), "the log says why: \(why)")
                    let moved = try #require(try await lastAttempt("moved"))
                    #expect(moved["last_status"] as? Int == 302, "\(moved)")
                    #expect(receiver.received.isEmpty, "the redirect was not followed")

                    // A receiver that never answers, then a stop: the service returns while the request is open.
                    let slow = try await api.post("/v1/webhooks", #"{"url":"http://127.0.0.1:\#(port)/slow"}"#)
                    let slowID = try #require(slow.object["id"] as? String)
                    #expect(try await api.post("/v1/webhooks/\(slowID)/test").status == .accepted)
                    try await Self.waitUntil("the slow receiver holds a delivery") {
                        receiver.slowStarted.withLock { $0 }
                    }
                }
                shutdown.triggerGracefulShutdown()
                try await Self.waitUntil("the service stops", timeout: .seconds(60)) {
                    stopped.isSet
                }
                #expect(receiver.received.isEmpty, "the slow receiver never answered, yet the service stopped")
            }
            #expect(
                await fx.sql(
                    "SELECT status FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id WHERE w.url LIKE '%/slow'"
                )
                    == "sending",
                "the interrupted delivery is left to be claimed again"
            )
        }
    }
}
