import Crypto
import Foundation
import Testing
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
        for _ in 0..<4 {
            f.clock.advance(by: .milliseconds(250))
            for _ in 0..<50 { await Task.yield() }
        }
        s = await f.controller.status()
        #expect(f.io.relayEnergized == false, "retried until the write succeeded")
        #expect(s.relayUnlocked == false)
        #expect(!s.alarms.contains("relay_fault"))
        let records = try await f.records().map { "\($0.event.kind.rawValue):\($0.event.reason ?? "")" }
        #expect(records.contains("alarm:relay_fault"))
        #expect(records.contains("relay:relock_retried"))
        #expect(records.contains("alarm_cleared:relay_fault"))
    }
}
