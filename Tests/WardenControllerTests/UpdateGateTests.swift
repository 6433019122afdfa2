import Foundation
import Testing
import WardenWire

@testable import WardenCLI

/// When warden-updater may install, fed values: the door's state and the clock.
@Suite struct UpdateGateTests {
    let berlin = TimeZone(identifier: "Europe/Berlin")!
    func idle() -> ControllerStatus {
        ControllerStatus(
            door: "d",
            lockID: "l",
            board: "b",
            relayUnlocked: false,
            relayEnergized: false,
            doorClosed: true,
            rexActive: false,
            tamperActive: false,
            passage: false,
            lockdown: false,
            alarms: [],
            accessListVersion: 1,
            auditLastSeq: 1,
            auditDurableSeq: 1,
            timeTrusted: true,
            ready: true,
            version: "2.0.0"
        )
    }
    /// 2026-12-03 at `h:m` in Berlin (UTC+1 in winter).
    func at(_ h: Int, _ m: Int) -> Date { Date(timeIntervalSince1970: 1_796_252_400 + Double(h * 3600 + m * 60)) }

    @Test func anIdleDoorGoesAndABusyOneWaitsSayingWhy() {
        let gate = UpdateGate(window: nil, timeZone: berlin)
        #expect(gate.decide(status: idle(), now: at(12, 0)) == .go)
        #expect(gate.decide(status: nil, now: at(12, 0)) == .go, "wardend down: no door is being decided")
        var s = idle()
        for (change, reason): ((inout ControllerStatus) -> Void, String) in [
            ({ $0.relayUnlocked = true }, "relay is unlocked"), ({ $0.doorClosed = false }, "door is open"),
            ({ $0.rexActive = true }, "exit button"), ({ $0.passage = true }, "passage"),
            ({ $0.lockdown = true }, "lockdown"), ({ $0.alarms = ["held_open"] }, "alarm: held_open"),
        ] {
            s = idle()
            change(&s)
            guard case .wait(let why) = gate.decide(status: s, now: at(12, 0)) else {
                Issue.record("\(reason): went ahead")
                continue
            }
            #expect(why.contains(reason), "\(why)")
        }
    }

    @Test func theWindowIsSiteLocalAndMayCrossMidnight() throws {
        let night = UpdateGate(window: try .init(parsing: "23:30-01:00"), timeZone: berlin)
        #expect(night.decide(status: idle(), now: at(23, 45)) == .go)
        #expect(night.decide(status: idle(), now: at(0, 30)) == .go)
        #expect(night.decide(status: idle(), now: at(1, 0)) != .go, "the end is exclusive")
        #expect(night.decide(status: idle(), now: at(12, 0)) != .go)
        let early = UpdateGate(window: try .init(parsing: "02:00-04:00"), timeZone: berlin)
        #expect(early.decide(status: idle(), now: at(3, 0)) == .go)
        #expect(early.decide(status: nil, now: at(5, 0)) != .go, "outside the window even with wardend down")
    }

    @Test func badWindowsAreRefusedNamingTheFormat() {
        for bad in ["", "2-4", "02:00", "02:00-02:00", "25:00-01:00", "02:60-03:00", "02:00-03:00-04:00", "0200-0300"] {
            #expect(throws: CLIError.self, "\(bad)") { try UpdateGate.Window(parsing: bad) }
        }
    }

    @Test func healthNeedsReadyOnTheTargetWithAWritableJournalAndNoRelayFault() {
        #expect(UpdateGate.healthy(idle(), version: "2.0.0") == nil)
        #expect(UpdateGate.healthy(nil, version: "2.0.0")?.contains("does not answer") == true)
        #expect(UpdateGate.healthy(idle(), version: "3.0.0")?.contains("runs 2.0.0, not 3.0.0") == true)
        var s = idle()
        s.ready = false
        #expect(UpdateGate.healthy(s, version: "2.0.0") != nil)
        s = idle()
        s.auditWriteError = "disk full"
        #expect(UpdateGate.healthy(s, version: "2.0.0")?.contains("disk full") == true)
        s = idle()
        s.alarms = ["relay_fault"]
        #expect(UpdateGate.healthy(s, version: "2.0.0") == "relay fault")
    }
}
