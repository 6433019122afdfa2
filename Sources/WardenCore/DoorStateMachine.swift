import WardenWire

/// The door: relay, inputs, alarms and modes as a value fed events and returning actions. No clock is read here:
/// every event carries the monotonic time it happened at (time since the owner's start), so tests drive it exactly.
///
/// Rules (docs/door.md): a grant unlocks for the pulse time and the lock relocks as soon as the door closes again;
/// request-to-exit unlocks in every mode (egress is life safety); the door opening while locked and without REX is a
/// forced-open alarm; open longer than `heldOpenAfter` is a held-open alarm; passage mode keeps it unlocked; lockdown
/// relocks and suspends passage. Inputs are debounced in software: a level counts only after it is stable.
public struct DoorStateMachine: Sendable {
    public let door: String
    public var timing: DoorTiming

    public private(set) var relayUnlocked = false
    public private(set) var pulseUntil: Duration?
    public private(set) var passage = false
    public private(set) var lockdown = false
    public private(set) var doorClosed: Bool
    public private(set) var rexActive: Bool
    public private(set) var tamperActive: Bool
    public private(set) var forcedOpenAlarm = false
    public private(set) var heldOpenAlarm = false
    private var heldOpenDeadline: Duration?
    private var lastRelock: Duration?
    private var pending: [DoorInput: (active: Bool, since: Duration)] = [:]

    public init(
        door: String,
        timing: DoorTiming,
        doorClosed: Bool = true,
        rexActive: Bool = false,
        tamperActive: Bool = false
    ) {
        self.door = door
        self.timing = timing
        self.doorClosed = doorClosed
        self.rexActive = rexActive
        self.tamperActive = tamperActive
    }

    /// The earliest time the owner must call `tick` (debounce settle, relock, held-open), or nil.
    public var nextWakeup: Duration? {
        var times: [Duration] = pending.map { $0.value.since + debounce($0.key) }
        if let p = pulseUntil { times.append(p) }
        if let h = heldOpenDeadline, !heldOpenAlarm { times.append(h) }
        return times.min()
    }

    private func debounce(_ input: DoorInput) -> Duration { timing.debounce[input] ?? .zero }

    // MARK: events

    /// An access decision granted: unlock for the pulse (or extended) time.
    public mutating func grant(extendedTime: Bool, at now: Duration) -> [DoorAction] {
        guard !lockdown else { return [] }  // policy denies first; this is the second wall
        return unlockPulse(extendedTime ? timing.extendedPulse : timing.pulse, reason: "grant", at: now)
    }

    /// An installer or remote pulse (`wardenctl relay pulse`), same path as a grant.
    public mutating func pulse(_ length: Duration, at now: Duration) -> [DoorAction] {
        guard !lockdown else { return [] }
        return unlockPulse(length, reason: "manual", at: now)
    }

    /// A raw edge from the input backend. Takes effect after the debounce time unless it bounces back.
    public mutating func rawInput(_ input: DoorInput, active: Bool, at now: Duration) -> [DoorAction] {
        if active == stable(input) {
            pending[input] = nil
            return []
        }
        if pending[input]?.active != active { pending[input] = (active, now) }
        return settle(at: now)
    }

    /// Time passed: settle debounced inputs, end pulses, raise held-open.
    public mutating func tick(at now: Duration) -> [DoorAction] {
        var actions = settle(at: now)
        if let until = pulseUntil, now >= until {
            pulseUntil = nil
            if !passage || lockdown { actions += setRelay(false, reason: "pulse_ended", at: now) }
        }
        if let deadline = heldOpenDeadline, !heldOpenAlarm, now >= deadline, !doorClosed, !passage {
            heldOpenAlarm = true
            actions.append(.audit(AuditEvent(.alarm, door: door, reason: "held_open")))
        }
        return actions
    }

    public mutating func setPassage(_ on: Bool, at now: Duration) -> [DoorAction] {
        guard on != passage else { return [] }
        passage = on
        var actions: [DoorAction] = [.audit(AuditEvent(.mode, door: door, reason: on ? "passage_on" : "passage_off"))]
        if lockdown { return actions }
        if on {
            actions += setRelay(true, reason: "passage", at: now)
        } else if pulseUntil == nil {
            actions += setRelay(false, reason: "passage_ended", at: now)
        }
        return actions
    }

    public mutating func setLockdown(_ on: Bool, at now: Duration) -> [DoorAction] {
        guard on != lockdown else { return [] }
        lockdown = on
        var actions: [DoorAction] = [.audit(AuditEvent(.mode, door: door, reason: on ? "lockdown_on" : "lockdown_off"))]
        if on {
            pulseUntil = nil
            actions += setRelay(false, reason: "lockdown", at: now)
        } else if passage {
            actions += setRelay(true, reason: "passage", at: now)
        }
        return actions
    }

    // MARK: internals

    private func stable(_ input: DoorInput) -> Bool {
        switch input {
        case .doorContact: return doorClosed
        case .rex: return rexActive
        case .tamper: return tamperActive
        }
    }

    private mutating func settle(at now: Duration) -> [DoorAction] {
        var actions: [DoorAction] = []
        for input in DoorInput.allCases {
            guard let p = pending[input], now >= p.since + debounce(input) else { continue }
            pending[input] = nil
            actions += stableChange(input, active: p.active, at: now)
        }
        return actions
    }

    private mutating func stableChange(_ input: DoorInput, active: Bool, at now: Duration) -> [DoorAction] {
        var actions: [DoorAction] = []
        switch input {
        case .doorContact:
            doorClosed = active
            actions.append(
                .audit(AuditEvent(.input, door: door, reason: "door_contact", detail: active ? "closed" : "open"))
            )
            if active {
                heldOpenDeadline = nil
                if heldOpenAlarm {
                    heldOpenAlarm = false
                    actions.append(.audit(AuditEvent(.alarmCleared, door: door, reason: "held_open")))
                }
                if forcedOpenAlarm {
                    forcedOpenAlarm = false
                    actions.append(.audit(AuditEvent(.alarmCleared, door: door, reason: "forced_open")))
                }
                if pulseUntil != nil {
                    pulseUntil = nil
                    if !passage || lockdown { actions += setRelay(false, reason: "door_closed", at: now) }
                }
            } else {
                heldOpenDeadline = now + timing.heldOpenAfter
                let withinGrace = lastRelock.map { now < $0 + timing.openGrace } ?? false
                if !relayUnlocked && !rexActive && !withinGrace {
                    forcedOpenAlarm = true
                    actions.append(.audit(AuditEvent(.alarm, door: door, reason: "forced_open")))
                }
            }
        case .rex:
            rexActive = active
            actions.append(
                .audit(AuditEvent(.input, door: door, reason: "rex", detail: active ? "pressed" : "released"))
            )
            if active { actions += unlockPulse(timing.pulse, reason: "rex", at: now, evenInLockdown: true) }
        case .tamper:
            tamperActive = active
            actions.append(
                .audit(AuditEvent(.input, door: door, reason: "tamper", detail: active ? "tripped" : "normal"))
            )
            actions.append(.audit(AuditEvent(active ? .alarm : .alarmCleared, door: door, reason: "tamper")))
        }
        return actions
    }

    private mutating func unlockPulse(
        _ length: Duration,
        reason: String,
        at now: Duration,
        evenInLockdown: Bool = false
    ) -> [DoorAction] {
        guard !lockdown || evenInLockdown else { return [] }
        pulseUntil = max(pulseUntil ?? .zero, now + length)
        return setRelay(true, reason: reason, at: now)
    }

    private mutating func setRelay(_ unlocked: Bool, reason: String, at now: Duration) -> [DoorAction] {
        guard unlocked != relayUnlocked else { return [] }
        relayUnlocked = unlocked
        if !unlocked { lastRelock = now }
        return [
            .setRelay(unlocked: unlocked),
            .audit(AuditEvent(.relay, door: door, reason: reason, detail: unlocked ? "unlocked" : "locked")),
        ]
    }
}
