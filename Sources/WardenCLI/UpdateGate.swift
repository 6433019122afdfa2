import Foundation
import WardenWire

/// When warden-updater may install (docs/updates.md): only while the door is idle — relay locked, door closed, no
/// exit request, passage and lockdown off, no alarm — and inside the optional maintenance window (site-local wall
/// time, `HH:MM-HH:MM`, may span midnight). Pure: the updater feeds it wardend's status and the time.
struct UpdateGate: Equatable {
    struct Window: Equatable, CustomStringConvertible {
        var start: Int  // minutes after midnight
        var end: Int

        /// `02:00-04:00`; the error names what is wrong.
        init(parsing text: String) throws(CLIError) {
            let parts = text.split(separator: "-")
            func minutes(_ s: Substring) -> Int? {
                let hm = s.split(separator: ":")
                guard hm.count == 2, hm[0].count == 2, hm[1].count == 2, let h = Int(hm[0]), let m = Int(hm[1]),
                    (0...23).contains(h), (0...59).contains(m)
                else { return nil }
                return h * 60 + m
            }
            guard parts.count == 2, let s = minutes(parts[0]), let e = minutes(parts[1]), s != e else {
                throw CLIError(
                    "maintenance window '\(text)': write HH:MM-HH:MM, e.g. 02:00-04:00 (start and end differ)"
                )
            }
            (start, end) = (s, e)
        }

        func contains(minuteOfDay m: Int) -> Bool { start < end ? (start..<end).contains(m) : (m >= start || m < end) }

        var description: String { String(format: "%02d:%02d-%02d:%02d", start / 60, start % 60, end / 60, end % 60) }
    }

    enum Decision: Equatable {
        case go
        case wait(String)
    }

    var window: Window?
    var timeZone: TimeZone

    /// `status` nil: wardend does not answer, so no door is being decided and nothing is lost by installing (an
    /// update may be what brings it back).
    func decide(status: ControllerStatus?, now: Date) -> Decision {
        if let window {
            var cal = Calendar(identifier: .gregorian)
            cal.timeZone = timeZone
            let c = cal.dateComponents([.hour, .minute], from: now)
            let minute = (c.hour ?? 0) * 60 + (c.minute ?? 0)
            guard window.contains(minuteOfDay: minute) else {
                return .wait("outside the maintenance window \(window) (\(timeZone.identifier))")
            }
        }
        guard let s = status else { return .go }
        if s.relayUnlocked { return .wait("the relay is unlocked (someone is passing)") }
        if !s.doorClosed { return .wait("the door is open") }
        if s.rexActive { return .wait("the exit button is pressed") }
        if s.passage { return .wait("passage mode is on") }
        if s.lockdown { return .wait("lockdown is on") }
        if !s.alarms.isEmpty { return .wait("alarm: \(s.alarms.joined(separator: ", "))") }
        return .go
    }

    /// The self-test after a restart: wardend answers READY on `version`, its journal writes and no relay fault.
    static func healthy(_ status: ControllerStatus?, version: String) -> String? {
        guard let s = status else { return "wardend does not answer on its control socket" }
        guard s.ready else { return "wardend is not ready" }
        guard s.version == version else { return "wardend runs \(s.version ?? "an unknown version"), not \(version)" }
        if let e = s.auditWriteError { return "the journal cannot write: \(e)" }
        if s.alarms.contains(AlarmReason.relayFault.rawValue) { return "relay fault" }
        return nil
    }
}
