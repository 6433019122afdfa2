import Testing
import WardenCore
import WardenWire

@Suite struct DoorStateMachineTests {
    var door = DoorStateMachine(
        door: "front",
        timing: DoorTiming(
            pulse: .seconds(5),
            extendedPulse: .seconds(15),
            heldOpenAfter: .seconds(30),
            debounce: [.doorContact: .milliseconds(50), .rex: .milliseconds(50), .tamper: .milliseconds(50)]
        )
    )

    func relays(_ a: [DoorAction]) -> [Bool] {
        a.compactMap { if case .setRelay(let u) = $0 { return u } else { return nil } }
    }
    func alarms(_ a: [DoorAction]) -> [String] {
        a.compactMap { if case .audit(let e) = $0, e.kind == .alarm { return e.reason } else { return nil } }
    }

    /// Feeds a debounced input change: raw edge, then a tick after the debounce time.
    mutating func input(_ i: DoorInput, _ active: Bool, at t: Duration) -> [DoorAction] {
        door.rawInput(i, active: active, at: t) + door.tick(at: t + .milliseconds(50))
    }

    @Test mutating func grantPulsesForConfiguredTimeThenRelocks() {
        #expect(relays(door.grant(extendedTime: false, at: .seconds(10))) == [true])
        #expect(door.nextWakeup == .seconds(15))
        #expect(relays(door.tick(at: .milliseconds(14_999))) == [])
        #expect(relays(door.tick(at: .seconds(15))) == [false])
        #expect(!door.relayUnlocked)
    }

    @Test mutating func extendedTimeCredentialGetsLongerPulse() {
        _ = door.grant(extendedTime: true, at: .zero)
        #expect(relays(door.tick(at: .seconds(14))) == [])
        #expect(relays(door.tick(at: .seconds(15))) == [false])
    }

    @Test mutating func relocksAsSoonAsTheDoorCloses() {
        _ = door.grant(extendedTime: false, at: .zero)
        let opened = input(.doorContact, false, at: .seconds(1))
        #expect(alarms(opened).isEmpty, "an authorised opening is not forced")
        let closed = input(.doorContact, true, at: .seconds(3))
        #expect(relays(closed) == [false])
        #expect(door.pulseUntil == nil)
    }

    @Test mutating func forcedOpenWhenLockedWithoutRex() {
        let a = input(.doorContact, false, at: .seconds(100))
        #expect(alarms(a) == ["forced_open"])
        #expect(relays(a) == [], "an alarm never moves the relay")
        #expect(door.forcedOpenAlarm)
        let c = input(.doorContact, true, at: .seconds(101))
        #expect(c.contains(.audit(AuditEvent(.alarmCleared, door: "front", reason: "forced_open"))))
    }

    @Test mutating func openingRightAfterRelockIsWithinGrace() {
        _ = door.grant(extendedTime: false, at: .zero)
        _ = door.tick(at: .seconds(5))
        #expect(alarms(input(.doorContact, false, at: .milliseconds(5_500))).isEmpty)
    }

    @Test mutating func heldOpenAlarmAfterThreshold() {
        _ = door.grant(extendedTime: false, at: .zero)
        _ = input(.doorContact, false, at: .seconds(1))
        #expect(alarms(door.tick(at: .seconds(30))).isEmpty)
        #expect(alarms(door.tick(at: .milliseconds(31_050))) == ["held_open"])
        #expect(alarms(door.tick(at: .seconds(40))).isEmpty, "raised once")
        let closed = input(.doorContact, true, at: .seconds(45))
        #expect(closed.contains(.audit(AuditEvent(.alarmCleared, door: "front", reason: "held_open"))))
    }

    @Test mutating func requestToExitUnlocksAndSuppressesForcedOpen() {
        let press = input(.rex, true, at: .seconds(1))
        #expect(relays(press) == [true])
        #expect(alarms(input(.doorContact, false, at: .seconds(2))).isEmpty)
    }

    @Test mutating func bounceShorterThanDebounceIsIgnored() {
        var a = door.rawInput(.doorContact, active: false, at: .seconds(1))
        a += door.rawInput(.doorContact, active: true, at: .milliseconds(1_020))
        a += door.tick(at: .seconds(2))
        #expect(a.isEmpty)
        #expect(door.doorClosed)
    }

    @Test mutating func passageModeHoldsUnlockedAndNoHeldOpenAlarm() {
        #expect(relays(door.setPassage(true, at: .zero)) == [true])
        _ = input(.doorContact, false, at: .seconds(1))
        #expect(alarms(door.tick(at: .seconds(100))).isEmpty)
        _ = input(.doorContact, true, at: .seconds(101))
        #expect(door.relayUnlocked, "closing the door does not end passage")
        #expect(relays(door.setPassage(false, at: .seconds(200))) == [false])
    }

    @Test mutating func lockdownRelocksRefusesGrantsButRexStillWorks() {
        _ = door.setPassage(true, at: .zero)
        #expect(relays(door.setLockdown(true, at: .seconds(1))) == [false])
        #expect(door.grant(extendedTime: false, at: .seconds(2)).isEmpty)
        #expect(door.pulse(.seconds(5), at: .seconds(2)).isEmpty)
        #expect(relays(input(.rex, true, at: .seconds(3))) == [true], "egress is life safety")
        _ = door.tick(at: .seconds(9))
        #expect(relays(door.setLockdown(false, at: .seconds(10))) == [true], "passage resumes")
    }

    @Test mutating func tamperRaisesAndClears() {
        #expect(alarms(input(.tamper, true, at: .seconds(1))) == ["tamper"])
        #expect(
            input(.tamper, false, at: .seconds(2)).contains(
                .audit(AuditEvent(.alarmCleared, door: "front", reason: "tamper"))
            )
        )
    }
}
