import Crypto
import Foundation
import Mosquitto
import Testing
import WardenAuthority
import WardenController
import WardenCore
import WardenTestSupport
import WardenWire

extension CloudStackSuite {
    /// Whoever can publish on the broker (a compromised broker, consumer or board credentials) cannot make a board act:
    /// forged, replayed, expired and misdirected commands, access-list updates and time answers change nothing and
    /// are audited. The test stands in for the cloud; the boards are real wardend processes.
    @Suite(.serialized) struct BoardSecurityTests {
        static let org = CloudStack.org

        @Test func forgedReplayedExpiredAndMisdirectedMessagesChangeNothingAndAreAudited() async throws {
            let stack = try await CloudStack.start()
            defer { stack.stop() }
            let board = try await stack.addBoard("lock-s")
            let other = try await stack.addBoard("lock-t")
            let cloud = try await CloudTester(broker: stack.broker)
            try await cloud.client.subscribe(topic: "warden/v1/\(Self.org)/+/cmd/result")
            try await cloud.client.subscribe(topic: "warden/v1/\(Self.org)/+/access/request")
            let s = try DeviceTopics(org: Self.org, dev: "lock-s")
            let t = try DeviceTopics(org: Self.org, dev: "lock-t")
            try await waitFor("both boards online", timeout: .seconds(15)) {
                try board.status().accessListVersion >= 0 && board.log.contains("connected to the broker")
                    && other.log.contains("connected to the broker")
            }
            let mallory = CredentialIssuer(keyID: CloudStack.kid, privateKey: P256.Signing.PrivateKey())
            let now = Date()
            func command(
                _ dev: String = "lock-s",
                jti: String = UUID().uuidString,
                iat: Date = now,
                exp: Date? = nil
            )
                -> SignedCommand
            {
                SignedCommand(
                    issuer: "cloud",
                    device: dev,
                    command: .unlock,
                    millis: 2000,
                    nonce: jti,
                    issuedAt: iat,
                    expires: exp ?? iat.addingTimeInterval(60)
                )
            }
            func result(_ topics: DeviceTopics, jti: String) async throws -> CommandResult {
                try await cloud.next(CommandResult.self, on: topics.topic(.cmdResult)) { $0.jti == jti }
            }

            // A good command runs once.
            let good = try await stack.sign(command(jti: "good"))
            try await cloud.signed(s, .cmd, good)
            #expect(try await result(s, jti: "good").code == .ok)
            // It opened: the journal's relay record (the 2 s pulse itself may be over before a loaded machine
            // reads the live state).
            try await waitFor("the command's relay record", timeout: .seconds(10)) {
                try board.journal().contains {
                    $0.event.kind == .relay && $0.event.reason == "manual" && $0.event.detail == "unlocked"
                }
            }
            // The same message again: replayed.
            try await cloud.signed(s, .cmd, good)
            try await waitFor("the replay's answer", timeout: .seconds(10)) {
                cloud.all(CommandResult.self, on: s.topic(.cmdResult)).count >= 2
            }
            #expect(cloud.all(CommandResult.self, on: s.topic(.cmdResult)).map(\.code) == [.ok, .replayed])
            // Forged (another key under the authority's key id), for another board, expired, too long-lived.
            try await cloud.signed(s, .cmd, try await mallory.sign(command(jti: "forged")))
            #expect(
                try await cloud.next(CommandResult.self, on: s.topic(.cmdResult)) { $0.code == .badSignature }.ok
                    == false
            )
            try await cloud.signed(s, .cmd, try await stack.sign(command("lock-t", jti: "misdirected")))
            #expect(try await result(s, jti: "misdirected").code == .wrongDevice)
            try await cloud.signed(
                s,
                .cmd,
                try await stack.sign(
                    command(jti: "late", iat: now.addingTimeInterval(-120), exp: now.addingTimeInterval(-60))
                )
            )
            #expect(try await result(s, jti: "late").code == .expired)
            try await cloud.signed(
                s,
                .cmd,
                try await stack.sign(command(jti: "long", exp: now.addingTimeInterval(3600)))
            )
            #expect(try await result(s, jti: "long").code == .expired)
            // A command for lock-s sent on lock-t's topic: lock-t refuses it, lock-s never sees it.
            try await cloud.signed(t, .cmd, try await stack.sign(command(jti: "wrong-topic")))
            #expect(try await result(t, jti: "wrong-topic").code == .wrongDevice)
            // An update order: a good one is handed to warden-updater (the order file, owner-only); a forged one, one
            // with a version apt would read as an option, and one living longer than a day are refused and hand
            // nothing over.
            let order = board.dir.appendingPathComponent("update-order.json").path
            func update(_ ver: String, jti: String, lifetime: TimeInterval = 3600) -> SignedCommand {
                SignedCommand(
                    issuer: "cloud",
                    device: "lock-s",
                    command: .update,
                    version: ver,
                    nonce: jti,
                    issuedAt: now,
                    expires: now.addingTimeInterval(lifetime)
                )
            }
            try await cloud.signed(s, .cmd, try await mallory.sign(update("9.9.9", jti: "forged-update")))
            #expect(
                try await cloud.next(CommandResult.self, on: s.topic(.cmdResult)) { $0.code == .badSignature }.ok
                    == false
            )
            try await cloud.signed(s, .cmd, try await stack.sign(update("--reinstall", jti: "option-update")))
            #expect(try await result(s, jti: "option-update").code == .malformed)
            try await cloud.signed(s, .cmd, try await stack.sign(update("2.0.0", jti: "eternal", lifetime: 2 * 86_400)))
            #expect(try await result(s, jti: "eternal").code == .expired)
            #expect(!FileManager.default.fileExists(atPath: order), "nothing refused was handed over")
            try await cloud.signed(s, .cmd, try await stack.sign(update("2.0.0", jti: "update-1")))
            #expect(try await result(s, jti: "update-1").code == .ok)
            let handed = try #require(FileManager.default.contents(atPath: order))
            let parsed = try WireJSON.decode(HandedCommand.self, from: Array(handed), what: "order")
            let keys = AuthorityKeySet([CloudStack.kid: stack.authority.publicKey])
            #expect(try SignedCommand.verified(parsed.token, authority: keys).ver == "2.0.0")
            let mode = try FileManager.default.attributesOfItem(atPath: order)[.posixPermissions] as? Int
            #expect(mode == 0o600)
            // A support-bundle request: handed to `wardenctl support-bundle --order` only when signed, for this board,
            // with an http(s) upload URL without a query, a token, and at most an hour to live.
            let supportOrder = board.dir.appendingPathComponent("support-order.json").path
            func bundle(
                _ url: String?,
                tok: String? = "wsb_0123456789abcdef",
                jti: String,
                life: TimeInterval = 600
            )
                -> SignedCommand
            {
                SignedCommand(
                    issuer: "cloud",
                    device: "lock-s",
                    command: .supportBundle,
                    uploadURL: url,
                    uploadToken: tok,
                    nonce: jti,
                    issuedAt: now,
                    expires: now.addingTimeInterval(life)
                )
            }
            let cloudURL = "https://cloud.example/v1/board/support-bundle"
            try await cloud.signed(s, .cmd, try await mallory.sign(bundle(cloudURL, jti: "forged-bundle")))
            #expect(
                try await cloud.next(CommandResult.self, on: s.topic(.cmdResult)) { $0.code == .badSignature }.ok
                    == false
            )
            for (url, tok, jti) in [
                (nil, "wsb_0123456789abcdef", "no-url"),
                ("file:///etc/warden/keys", "wsb_0123456789abcdef", "file-url"),
                ("https://cloud.example/upload?to=elsewhere", "wsb_0123456789abcdef", "query-url"),
                (cloudURL, nil, "no-token"),
            ] {
                try await cloud.signed(s, .cmd, try await stack.sign(bundle(url, tok: tok, jti: jti)))
                #expect(try await result(s, jti: jti).code == .malformed, "\(jti)")
            }
            try await cloud.signed(s, .cmd, try await stack.sign(bundle(cloudURL, jti: "long-bundle", life: 7200)))
            #expect(try await result(s, jti: "long-bundle").code == .expired)
            #expect(!FileManager.default.fileExists(atPath: supportOrder), "nothing refused was handed over")
            try await cloud.signed(s, .cmd, try await stack.sign(bundle(cloudURL, jti: "bundle-1")))
            #expect(try await result(s, jti: "bundle-1").code == .ok)
            let handedBundle = try WireJSON.decode(
                HandedCommand.self,
                from: Array(try #require(FileManager.default.contents(atPath: supportOrder))),
                what: "support order"
            )
            #expect(try SignedCommand.verified(handedBundle.token, authority: keys).url == cloudURL)
            #expect(try FileManager.default.attributesOfItem(atPath: supportOrder)[.posixPermissions] as? Int == 0o600)

            // Not even after a reboot does the good command run again (its nonce is kept in SQLite until it expires).
            board.stop()
            try await board.start()
            try await waitFor("lock-s back", timeout: .seconds(15)) {
                board.log.components(separatedBy: "connected to the broker").count >= 3
            }
            try await cloud.signed(s, .cmd, good)
            try await waitFor("the post-reboot replay's answer", timeout: .seconds(10)) {
                cloud.all(CommandResult.self, on: s.topic(.cmdResult)).filter { $0.jti == "good" }.count == 3
            }
            let goods = cloud.all(CommandResult.self, on: s.topic(.cmdResult)).filter { $0.jti == "good" }.map(\.code)
            #expect(goods == [.ok, .replayed, .replayed])

            // Access-list updates: a good snapshot v5, then forged, another door's, and older ones.
            func update(
                _ ver: Int64,
                base: Int64? = nil,
                doors: [String] = ["door-lock-s"],
                revoke: String? = nil
            )
                -> AccessListUpdate
            {
                AccessListUpdate(
                    issuer: "cloud",
                    doors: doors,
                    version: ver,
                    base: base,
                    snapshot: base == nil,
                    grant: [.init(id: "c1", user: "u1")],
                    revoke: revoke.map { [.init(id: $0, user: "x")] } ?? [],
                    issuedAt: now
                )
            }
            try await cloud.signed(s, .access, try await stack.sign(update(5)))
            try await waitFor("v5 applied", timeout: .seconds(10)) { try board.status().accessListVersion == 5 }
            try await cloud.signed(s, .access, try await mallory.sign(update(6, base: 5, revoke: "c1")))
            let request = try await cloud.next(AccessRequest.self, on: s.topic(.accessRequest)) {
                $0.reason == .badSignature
            }
            #expect(request.have == 5, "a bad signature makes the board ask for a signed snapshot")
            try await cloud.signed(s, .access, try await stack.sign(update(6, base: 5, doors: ["vault"], revoke: "c1")))
            try await cloud.signed(s, .access, try await stack.sign(update(3)))
            try await cloud.signed(s, .access, try await stack.sign(update(4, base: 3, revoke: "c1")))

            // Time answers: forged, and genuine but for a nonce the board is not waiting for (a replay).
            let future = now.addingTimeInterval(10 * 86_400)
            try await cloud.signed(
                s,
                .time,
                try await mallory.sign(
                    SignedTime(issuer: "cloud", device: "lock-s", nonce: "AAAAAAAAAAAAAAAAAAAAAA", time: future)
                )
            )
            try await cloud.signed(
                s,
                .time,
                try await stack.sign(
                    SignedTime(issuer: "cloud", device: "lock-s", nonce: "AAAAAAAAAAAAAAAAAAAAAA", time: future)
                )
            )
            try await waitFor("the refusals in the journal", timeout: .seconds(10)) {
                try board.journal().filter { $0.event.reason == "time_refused" }.count == 2
            }
            let status = try board.status()
            #expect(status.accessListVersion == 5, "no refused update changed the list")
            #expect(status.time == "trusted")
            let journal = try board.journal()
            #expect(!journal.contains { $0.event.reason == "time_synced" }, "no time answer was used")
            let commands = journal.filter { $0.event.kind == .command }.map { $0.event.reason ?? "" }
            #expect(
                commands == [
                    "ok", "replayed", "bad_signature", "wrong_device", "expired", "expired", "bad_signature",
                    "malformed", "expired", "ok",
                    // The support-bundle requests: forged, four malformed, over-long, good.
                    "bad_signature", "malformed", "malformed", "malformed", "malformed", "expired", "ok",
                    "replayed",
                ]
            )
            let refusedUpdates = journal.filter { $0.event.reason == "access_list_refused" }.map {
                $0.event.detail ?? ""
            }
            #expect(refusedUpdates.count == 4, "\(refusedUpdates)")
            #expect(refusedUpdates.contains { $0.contains("signature") })
            #expect(refusedUpdates.contains { $0.contains("not door 'door-lock-s'") })
            #expect(refusedUpdates.contains { $0.contains("older than the applied v5") })
            #expect(refusedUpdates.contains { $0.contains("does not start at the applied v5") })
            #expect(
                try other.journal().filter { $0.event.kind == .command }.map { $0.event.reason } == ["wrong_device"]
            )
        }
    }
}
