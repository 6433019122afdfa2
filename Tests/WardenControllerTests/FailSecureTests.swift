import Crypto
import Foundation
import Testing
import WardenAuthority
import WardenController
import WardenCore
import WardenStore
import WardenWire

/// The door never opens, and is never reported locked when it is not, on the paths a fault or a stop takes.
@Suite struct FailSecureTests {
    /// The actor is re-entered while shutdown flushes the journal: a grant, a pulse or a passage change arriving
    /// then must not move the relay, and the relay is driven locked last.
    @Test func nothingUnlocksOnceShutdownHasBegun() async throws {
        let f = try Fixture()
        await f.controller.run()
        let token = try await f.token()
        let stop = Task { await f.controller.shutdown(reason: "SIGTERM") }
        while await !f.controller.isStopping { await Task.yield() }
        let decision = try await f.present(token)
        #expect(decision.denyReason == .shuttingDown)
        await f.controller.pulse(.seconds(30))
        await f.controller.setPassage(true)
        await f.input(.rex, true)
        await stop.value
        #expect(f.io.relayEnergized == false, "locked at the end")
        #expect(f.io.relayWrites.allSatisfy { $0 == false }, "no write ever unlocked: \(f.io.relayWrites)")
        #expect(await f.controller.status().relayUnlocked == false)
    }

    @Test func aFailedRelockIsRetriedAlarmedAndNeverReportedLocked() async throws {
        let f = try Fixture()
        await f.controller.run()
        #expect(try await f.present(try await f.token()).isGranted)
        #expect(f.io.relayEnergized == true)
        f.io.failRelayWrites(3)
        await f.advance(.seconds(6))  // the pulse ends: the relock write fails
        var s = await f.controller.status()
        #expect(s.relayUnlocked == true, "a relock that failed is not reported as locked")
        #expect(s.alarms.contains("relay_fault"))
        #expect(f.io.relayEnergized == true, "the line really is still unlocked")
        // Virtual time moves on in 250 ms steps until the write succeeds (bounded at 100 s): however the pool
        // schedules the retry task, the clock keeps passing its deadline, so the outcome does not hang on a guess.
        var steps = 0
        while f.io.relayEnergized == true, steps < 400 {
            f.clock.advance(by: .milliseconds(250))
            for _ in 0..<100 { await Task.yield() }
            steps += 1
        }
        s = await f.controller.status()
        #expect(f.io.relayEnergized == false, "retried until the write succeeded (\(steps) steps of 250 ms)")
        #expect(s.relayUnlocked == false)
        #expect(!s.alarms.contains("relay_fault"))
        let records = try await f.records().map { "\($0.event.kind.rawValue):\($0.event.reason ?? "")" }
        #expect(records.contains("alarm:relay_fault"))
        #expect(records.contains("relay:relock_retried"))
        #expect(records.contains("alarm_cleared:relay_fault"))
    }
}

/// An unauthenticated clock can never unlock a door: a forward jump into a passage window holds nothing open,
/// grants nothing that trusted time would not, and leaves no mark in the future to lock everyone out later.
@Suite struct ClockJumpTests {
    /// docs/time.md, the signed-time row: authority-signed time (checked for nonce and round trip by WardenSync)
    /// confirms a legitimate jump and pulls back a mark that ran into the future.
    @Test func signedTimeConfirmsAJumpAndCorrectsAMarkInTheFuture() async throws {
        let f = try Fixture()
        await f.controller.confirmTime()  // the mark is now
        f.wall.advance(.seconds(7 * 86_400))  // powered off for a week, then the wall clock was set
        #expect(await f.controller.status().time == "unconfirmed")
        await f.controller.syncTime(reference: f.wall.now, detail: "test")
        var s = await f.controller.status()
        #expect(s.time == "trusted" && !s.alarms.contains("clock_jump"))
        let tomorrow = try await f.token(id: "c-tomorrow", expiresIn: 10 * 86_400, notBefore: 86_400)
        #expect(try await f.present(tomorrow, id: "c-tomorrow").isGranted == false)
        // An earlier reference two days ahead dragged the mark into the future: tomorrow's credential would pass.
        await f.controller.syncTime(reference: f.wall.now.addingTimeInterval(2 * 86_400), detail: "test")
        #expect(try await f.present(tomorrow, id: "c-tomorrow").isGranted)
        // The next signed answer says the real time: the mark comes back with it, and tomorrow is tomorrow again.
        await f.controller.syncTime(reference: f.wall.now, detail: "test")
        s = await f.controller.status()
        #expect(s.time == "trusted")
        #expect(try await f.present(tomorrow, id: "c-tomorrow").isGranted == false)
        let synced = try await f.records().filter { $0.event.reason == "time_synced" }
        #expect(synced.count == 3)
    }

    @Test func aClockJumpIntoAPassageWindowNeverOpensTheDoorAndLeavesNoLockout() async throws {
        // The mark is Monday 2026-09-21 15:47 Berlin; the passage window is Mondays 16:00-16:30.
        let yaml = passageConfigYAML(stateDir: "state", extra: "time: {max_forward_jump_s: 3600}")
        let dir = TempDir()
        let authority = P256.Signing.PrivateKey()
        _ = dir.write("authority.pub", authority.publicKey.pemRepresentation)
        let config = try WardenConfig.load(path: dir.write("w.yaml", yaml))
        try FileManager.default.createDirectory(atPath: config.stateDir, withIntermediateDirectories: true)
        let db = try WardenDatabase(path: config.databasePath)
        let markDate = Date(timeIntervalSince1970: 1_790_002_800 - 4380)  // Mon 2026-09-21 15:47 Berlin
        try db.setMeta("time_high_water_mark", String(markDate.timeIntervalSince1970))
        let io = SimulatedDoorIO()
        // Someone on the LAN answers SNTP with next Monday 16:13 (inside the window, a week ahead).
        let wall = WallClock(markDate.addingTimeInterval(7 * 86_400 + 1560))
        let journal = try AuditJournal(database: db)
        let c = try DoorController(
            config: config,
            profile: try BoardProfile.load(path: config.boardPath),
            io: io,
            database: db,
            journal: journal,
            clock: ManualClock(),
            wallClock: { wall.now }
        )
        await c.run()
        #expect(io.relayEnergized != true, "no passage on unconfirmed time")
        var s = await c.status()
        #expect(s.time == "unconfirmed" && s.alarms.contains("clock_jump") && !s.passage)
        // A credential that becomes valid only next week is not valid on the jumped clock.
        let issuer = CredentialIssuer(keyID: "org-1", privateKey: authority)
        let holder = P256.Signing.PrivateKey()
        let early = try await issuer.sign(
            CredentialClaims(
                issuer: "org",
                userID: "contractor",
                credentialID: "c-next-week",
                issuedAt: markDate,
                notBefore: markDate.addingTimeInterval(6 * 86_400),
                expires: markDate.addingTimeInterval(9 * 86_400),
                holderKey: holder.publicKey,
                doors: ["front"]
            )
        )
        #expect(try await Fixture.present(early, holder: holder, on: c).isGranted == false)
        // The clock comes back: trusted again at once, the mark never moved, nobody locked out.
        wall.set(markDate.addingTimeInterval(120))
        s = await c.status()
        #expect(s.time == "trusted" && !s.alarms.contains("clock_jump"))
        let now = try await issuer.sign(
            CredentialClaims(
                issuer: "org",
                userID: "alice",
                credentialID: "c-now",
                issuedAt: markDate,
                notBefore: markDate.addingTimeInterval(-60),
                expires: markDate.addingTimeInterval(86_400),
                holderKey: holder.publicKey,
                doors: ["front"]
            )
        )
        #expect(try await Fixture.present(now, holder: holder, on: c).isGranted)
        #expect(io.relayWrites.filter { $0 }.count == 1, "only the one grant ever unlocked")
    }
}
