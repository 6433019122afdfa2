import Crypto
import Foundation
import Testing
import WardenAuthority
import WardenController
import WardenCore
import WardenProtocol
import WardenStore
import WardenWire

@Suite struct DoorControllerTests {
    @Test func validCredentialPulsesForConfiguredTimeThenRelocks() async throws {
        let f = try Fixture()
        await f.controller.run()
        #expect(f.io.relayWrites == [false], "started locked (strike: coil off)")
        let d = try await f.present(try await f.token())
        #expect(d.isGranted)
        #expect(f.io.relayEnergized == true)
        await f.advance(.milliseconds(4_900))
        #expect(f.io.relayEnergized == true, "still inside the 5 s pulse")
        await f.advance(.milliseconds(100))
        #expect(f.io.relayEnergized == false, "relocked at 5 s")
        let kinds = try await f.records().map { "\($0.event.kind.rawValue):\($0.event.reason ?? "")" }
        #expect(kinds == ["daemon:started", "relay:grant", "access_granted:", "relay:pulse_ended"])
    }

    @Test func relocksWhenTheDoorClosesAndExtendedTimeIsLonger() async throws {
        let f = try Fixture()
        await f.controller.run()
        #expect(try await f.present(try await f.token(extended: true)).isGranted)
        await f.input(.doorContact, false)
        await f.advance(.seconds(6))
        #expect(f.io.relayEnergized == true, "extended time (15 s) is still running")
        await f.input(.doorContact, true)
        #expect(f.io.relayEnergized == false, "relocked as soon as the door closed")
        let status = await f.controller.status()
        #expect(status.alarms.isEmpty)
    }

    @Test func everyDenialIsAuditedAndNeverMovesTheRelay() async throws {
        // The test moves the wall clock months ahead (to a holiday): allow that jump (ClockJumpTests covers the rule).
        let f = try Fixture(extraConfig: "time: {max_forward_jump_s: 31536000}")
        await f.controller.run()
        let rogue = CredentialIssuer(keyID: "org-1", privateKey: P256.Signing.PrivateKey())
        let unknown = CredentialIssuer(keyID: "org-9", privateKey: P256.Signing.PrivateKey())
        let weekend = WeeklySchedule(windows: [
            ScheduleWindow(
                days: [.sat, .sun],
                start: try LocalTime(parsing: "08:00"),
                end: try LocalTime(parsing: "18:00")
            )
        ])
        let before = f.io.relayWrites
        let cases: [(String, DenyReason)] = [
            (try await f.token(expiresIn: -1), .expired),
            (try await f.token(notBefore: 600), .notYetValid),
            (try await f.token(schedule: weekend), .outsideSchedule),
            (try await f.token(doors: ["vault"]), .wrongDoor),
            (try await f.token(by: rogue), .badSignature),
            (try await f.token(by: unknown), .unknownKeyID),
            ("not.a.jws", .malformedCredential),
        ]
        for (token, reason) in cases {
            #expect(try await f.present(token).denyReason == reason)
        }
        // Stolen: the credential is real, the presenter lacks the holder key.
        #expect(
            try await f.present(try await f.token(), holder: P256.Signing.PrivateKey()).denyReason
                == .holderProofInvalid
        )
        // (A replayed holder signature is refused by the protocol: ProtocolTests.SessionSecurityTests.)
        #expect(try await f.present(try await f.token()).isGranted)
        await f.advance(.seconds(6))
        let afterGrant = f.io.relayWrites
        // Revoked (signed update), holiday, lockdown.
        let update = try await f.authority.sign(
            AccessListUpdate.revoking(at: f.wall.now)
        )
        #expect(try await f.controller.applyAccessList(token: update) == 1)
        #expect(try await f.present(try await f.token()).denyReason == .revoked)
        let weekday = WeeklySchedule(windows: [
            ScheduleWindow(
                days: [.mon, .tue, .wed, .thu, .fri],
                start: try LocalTime(parsing: "00:00"),
                end: try LocalTime(parsing: "24:00")
            )
        ])
        f.wall.set(Date(timeIntervalSince1970: 1_798_196_400))  // Fri 2026-12-25 12:00 Berlin, a site holiday
        #expect(
            try await f.present(
                try await f.token(id: "c2", expiresIn: 86_400 * 200, notBefore: -86_400 * 100, schedule: weekday),
                id: "c2"
            ).denyReason == .holiday
        )
        await f.controller.setLockdown(true)
        let lockdownWrites = f.io.relayWrites
        #expect(
            try await f.present(
                try await f.token(id: "c3", expiresIn: 86_400 * 200, notBefore: -86_400 * 100),
                id: "c3"
            ).denyReason == .lockdown
        )
        #expect(f.io.relayWrites == lockdownWrites)
        #expect(afterGrant.count == before.count + 2, "only the one grant moved the relay (unlock + relock)")
        let denied = try await f.records().filter { $0.event.kind == .accessDenied }.map { $0.event.reason ?? "" }
        #expect(
            denied == [
                "expired", "not_yet_valid", "outside_schedule", "wrong_door", "bad_signature", "unknown_key_id",
                "malformed_credential", "holder_proof_invalid", "revoked", "holiday", "lockdown",
            ]
        )
    }

    @Test func forcedOpenHeldOpenAndRex() async throws {
        let f = try Fixture()
        await f.controller.run()
        await f.input(.doorContact, false)
        #expect(await f.controller.status().alarms == ["forced_open"])
        #expect(f.io.relayEnergized == false)
        await f.advance(.seconds(31))
        #expect(await f.controller.status().alarms == ["forced_open", "held_open"])
        await f.input(.doorContact, true)
        #expect(await f.controller.status().alarms.isEmpty)
        await f.input(.rex, true)
        #expect(f.io.relayEnergized == true, "request-to-exit unlocks")
        await f.input(.rex, false)
        await f.input(.doorContact, false)
        #expect(await f.controller.status().alarms.isEmpty, "exit is not forced")
        let alarms = try await f.records().filter { $0.event.kind == .alarm }.map { $0.event.reason ?? "" }
        #expect(alarms == ["forced_open", "held_open"])
    }

    @Test func passageScheduleUnlocksDuringItsWindow() async throws {
        // t0 is Monday 16:13 Berlin; the passage window is Monday 16:00-16:30.
        let yaml = passageConfigYAML(stateDir: "state2")
        let dir = TempDir()
        _ = dir.write("authority.pub", P256.Signing.PrivateKey().publicKey.pemRepresentation)
        let config = try WardenConfig.load(path: dir.write("w.yaml", yaml))
        try FileManager.default.createDirectory(atPath: config.stateDir, withIntermediateDirectories: true)
        let db = try WardenDatabase(path: config.databasePath)
        let io = SimulatedDoorIO()
        let wall = WallClock(Date(timeIntervalSince1970: 1_790_000_000))
        let c = try DoorController(
            config: config,
            profile: try BoardProfile.load(path: config.boardPath),
            io: io,
            database: db,
            journal: try AuditJournal(database: db),
            clock: ManualClock(),
            wallClock: { wall.now }
        )
        await c.run()
        #expect(io.relayEnergized == true, "inside the window: passage")
        #expect(await c.status().passage)
        await c.setLockdown(true)
        #expect(io.relayEnergized == false, "lockdown overrides passage")
        await c.setLockdown(false)
        #expect(io.relayEnergized == true)
        await c.setPassage(false)
        #expect(io.relayEnergized == false, "manual override")
        await c.setPassage(nil)
        #expect(io.relayEnergized == true, "back to the schedule")
    }

    @Test func unknownTimeDeniesByDefault() async throws {
        let f = try Fixture()
        // The mark is ahead of the wall clock by ~4 months.
        try f.db.setMeta("time_high_water_mark", String(1_800_000_000.0))
        let c = try DoorController(
            config: f.config,
            profile: f.profile,
            io: f.io,
            database: f.db,
            journal: f.journal,
            clock: f.clock,
            wallClock: { f.wall.now }
        )
        await c.run()
        #expect(try await Fixture.present(try await f.token(), holder: f.holder, on: c).denyReason == .timeUnknown)
        #expect(await c.status().timeTrusted == false)
    }

    @Test func shutdownDrivesTheRelayLocked() async throws {
        let f = try Fixture()
        await f.controller.run()
        await f.controller.pulse(.seconds(60))
        #expect(f.io.relayEnergized == true)
        await f.controller.shutdown(reason: "SIGTERM")
        #expect(f.io.relayEnergized == false)
        // shutdown's own flush gives up after 5 s of wall time (a store that cannot write must not hold up a stop);
        // on a loaded machine that can pass before the flusher runs, so wait for it here without a bound.
        await f.journal.flush()
        let last = try f.journal.records(after: 0, limit: 100).suffix(2).map {
            "\($0.event.kind.rawValue):\($0.event.reason ?? "")"
        }
        #expect(last == ["relay:shutdown", "daemon:stopped"])
    }
}

@Suite struct AccessListIndexControllerTests {
    /// Revocation through the normal update path (a signed delta to `applyAccessList`) takes effect on the very next
    /// presentation, over both presentation paths and with the credential already cached; no restart.
    @Test func deltaRevocationAppliesToTheNextPresentation() async throws {
        let f = try Fixture()
        await f.controller.run()
        let holder = f.holder
        let valid: @Sendable (P256.Signing.PublicKey) -> Bool = {
            $0.rawRepresentation == holder.publicKey.rawRepresentation
        }
        func sign(_ ver: Int64, base: Int64?, grant: [String] = [], revoke: [String] = []) async throws -> String {
            try await f.authority.sign(
                AccessListUpdate(
                    issuer: "org",
                    doors: ["front"],
                    version: ver,
                    base: base,
                    snapshot: base == nil,
                    grant: grant.map { .init(id: $0, user: "alice") },
                    revoke: revoke.map { .init(id: $0, user: "alice") },
                    issuedAt: f.wall.now
                )
            )
        }
        _ = try await f.controller.applyAccessList(token: try await sign(1, base: nil, grant: ["c1", "c2"]))
        let token = try await f.token(id: "c1")
        #expect(
            await f.controller.presentOverSession(credential: token, holderProofValid: valid, peer: "t").1 == .granted
        )
        await f.advance(.seconds(6))
        _ = try await f.controller.applyAccessList(token: try await sign(2, base: 1, revoke: ["c1"]))
        #expect(
            await f.controller.presentOverSession(credential: token, holderProofValid: valid, peer: "t").1 == .revoked
        )
        #expect(try await f.present(token).denyReason == .revoked)
        // Re-granted by the next delta: admitted again.
        _ = try await f.controller.applyAccessList(token: try await sign(3, base: 2, grant: ["c1"]))
        #expect(try await f.present(token).isGranted)
        await f.advance(.seconds(6))
        // A snapshot that no longer lists c1 and revokes c2.
        _ = try await f.controller.applyAccessList(token: try await sign(4, base: nil, grant: ["c3"], revoke: ["c2"]))
        #expect(try await f.present(try await f.token(id: "c2"), id: "c2").denyReason == .revoked)
        #expect(try await f.present(token).isGranted, "unlisted is admitted in the default (offline-first) mode")
    }

    /// Allow-list mode: unlisted is refused, listed is admitted, following updates without restart; and the index
    /// loaded at start (a new controller on the same store) agrees.
    @Test func allowListModeFollowsUpdatesAndRestartAgrees() async throws {
        let f = try Fixture(extraConfig: "access: {require_listed: true}")
        await f.controller.run()
        let token = try await f.token(id: "c1")
        #expect(try await f.present(token).denyReason == .notListed)
        let grant = try await f.authority.sign(
            AccessListUpdate(
                issuer: "org",
                doors: ["front"],
                version: 1,
                base: nil,
                snapshot: true,
                grant: [.init(id: "c1", user: "alice")],
                revoke: [],
                issuedAt: f.wall.now
            )
        )
        _ = try await f.controller.applyAccessList(token: grant)
        #expect(try await f.present(token).isGranted)
        await f.advance(.seconds(6))
        let second = try DoorController(
            config: f.config,
            profile: f.profile,
            io: SimulatedDoorIO(),
            database: f.db,
            journal: f.journal,
            clock: f.clock,
            wallClock: { [wall = f.wall] in wall.now }
        )
        #expect(try await Fixture.present(token, holder: f.holder, on: second).isGranted)
    }
}

@Suite struct CredentialCacheTests {
    /// The verified-credential cache skips only the authority signature and parsing: a credential granted once is
    /// still refused after revocation, expiry or lockdown, and a forged token never enters the cache.
    @Test func cachedCredentialIsStillRevokedExpiredAndLockedDown() async throws {
        let f = try Fixture()
        await f.controller.run()
        let token = try await f.token(expiresIn: 600)
        let holder = f.holder
        let valid: @Sendable (P256.Signing.PublicKey) -> Bool = {
            $0.rawRepresentation == holder.publicKey.rawRepresentation
        }
        #expect(
            await f.controller.presentOverSession(credential: token, holderProofValid: valid, peer: "t").1 == .granted
        )
        await f.advance(.seconds(6))
        #expect(
            await f.controller.presentOverSession(credential: token, holderProofValid: { _ in false }, peer: "t").1
                == .holderProofInvalid
        )
        await f.controller.setLockdown(true)
        #expect(
            await f.controller.presentOverSession(credential: token, holderProofValid: valid, peer: "t").1 == .lockdown
        )
        await f.controller.setLockdown(false)
        let update = try await f.authority.sign(
            AccessListUpdate.revoking(at: f.wall.now)
        )
        _ = try await f.controller.applyAccessList(token: update)
        #expect(
            await f.controller.presentOverSession(credential: token, holderProofValid: valid, peer: "t").1 == .revoked
        )
        let other = try await f.token(id: "c9", expiresIn: 600)
        #expect(
            await f.controller.presentOverSession(credential: other, holderProofValid: valid, peer: "t").1 == .granted
        )
        await f.advance(.seconds(700))
        #expect(
            await f.controller.presentOverSession(credential: other, holderProofValid: valid, peer: "t").1 == .expired
        )
        var forged = Array(other.utf8)
        forged[forged.count - 5] = forged[forged.count - 5] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        #expect(
            await f.controller.presentOverSession(
                credential: String(decoding: forged, as: UTF8.self),
                holderProofValid: valid,
                peer: "t"
            ).1 == .badSignature
        )
    }

    /// The version is the running wardend's (read at start); the updater's report is read at start and again when
    /// the updater says it wrote one, then audited once, so the sync service publishes the state with it at once.
    @Test func theUpdateReportIsReadWhenTheUpdaterSaysSoAndAuditedOnce() async throws {
        let f = try Fixture(
            extraConfig: "software: {version_file: version, update_order: order.json, update_report: update.json}"
        )
        _ = f.dir.write("version", "1.0.0\n")
        await f.controller.softwareRestarted()
        #expect(await f.controller.status().version == "1.0.0")
        #expect(await f.controller.status().update == nil)
        _ = f.dir.write("version", "2.0.0\n")
        let report = UpdateReport(
            target: "2.0.0",
            status: .rolledBack,
            version: "1.0.0",
            previous: "1.0.0",
            detail: "2.0.0 is not healthy: no READY",
            jti: "j1",
            at: 1_790_000_000
        )
        try f.config.software.writeReport(report)
        #expect(await f.controller.status().update == nil, "status() reads no file")
        #expect(await f.controller.updateReported() == report)
        #expect(await f.controller.updateReported() == report)
        let status = await f.controller.status()
        #expect(status.update == report)
        #expect(status.version == "1.0.0", "a report does not change the running version; a restart does")
        let audited = try await f.records().filter { $0.event.reason?.hasPrefix("update_") == true }
        #expect(audited.map(\.event.kind) == [.config], "audited once, however often the updater says so")
        #expect(audited.first?.event.reason == "update_rolled_back")
        #expect(audited.first?.event.detail?.contains("jti=j1") == true)
    }

    /// `update` and `support_bundle` are handed to root helpers through files in wardend's runtime folder. When the
    /// hand-over cannot be written, the command is answered `unsupported` (the cloud sees it at once instead of
    /// waiting for a report that never comes), audited, and the relay never moves.
    @Test func aHandOverThatCannotBeWrittenIsAnsweredUnsupported() async throws {
        let f = try Fixture(
            extraConfig: "software: {update_order: missing/order.json, support_order: runtime/support.json}"
        )
        await f.controller.run()
        try FileManager.default.createDirectory(
            atPath: f.dir.url.appendingPathComponent("runtime").path,
            withIntermediateDirectories: true
        )
        func command(_ kind: SignedCommand.Kind, jti: String) async throws -> String {
            try await f.authority.sign(
                SignedCommand(
                    issuer: "org",
                    device: "lock-1",
                    command: kind,
                    version: kind == .update ? "2.0.0" : nil,
                    uploadURL: kind == .supportBundle ? "https://cloud.example/v1/board/support-bundle" : nil,
                    uploadToken: kind == .supportBundle ? "wsb_0123456789abcdef0123" : nil,
                    nonce: jti,
                    issuedAt: f.wall.now,
                    expires: f.wall.now.addingTimeInterval(600)
                )
            )
        }
        let update = await f.controller.execute(commandToken: try await command(.update, jti: "u1"))
        #expect(update.result.code == .unsupported)
        #expect(update.result.detail?.contains("cannot hand the update command") == true)
        #expect(update.executed == nil)
        let bundle = await f.controller.execute(commandToken: try await command(.supportBundle, jti: "s1"))
        #expect(bundle.result.code == .ok, "the helper's folder exists: handed over")
        let handed = try #require(
            FileManager.default.contents(atPath: f.dir.url.appendingPathComponent("runtime/support.json").path)
        )
        #expect(try WireJSON.decode(HandedCommand.self, from: Array(handed), what: "hand-over").received > 0)
        #expect(f.io.relayWrites.allSatisfy { !$0 }, "the relay never moved")
        let audited = try await f.records().filter { $0.event.kind == .command }
        #expect(audited.map(\.event.reason) == ["unsupported", "ok"])
    }
}
