import WardenCore

/// A control-socket request, checked: what `ControlRequest`'s JSON asked for, with every field validated, so the
/// daemon's handler is an exhaustive switch over commands instead of string matching.
public enum ControlCommand: Sendable, Equatable {
    case status
    /// Unlock for this long (0 < seconds ≤ 600).
    case pulse(Duration)
    case lockdown(Bool)
    /// Manual passage on or off; nil returns to the schedule.
    case passage(Bool?)
    /// An authority-signed access-list update (JWS).
    case accessApply(token: String)
    /// An authority-signed remote command (JWS), checked exactly as when it comes over MQTT: the socket is one more
    /// transport, never a way around the signature (an installer hands a board an update order offline this way).
    case commandApply(token: String)
    /// warden-updater wrote its report: read it, audit it, publish it.
    case updateReported
    /// Drive a simulated input (simulated board only).
    case simInput(DoorInput, active: Bool)
    /// Stream audit records until the client closes.
    case watch
    /// The operator vouches for the board's clock (after a forward jump left time unconfirmed).
    case confirmTime

    public static let names = [
        "status", "pulse", "watch", "lockdown", "passage", "access_apply", "command_apply", "sim_input", "time_confirm",
        "update_reported",
    ]

    /// Validates `request`; the error says what was wrong and what is expected.
    public init(_ request: ControlRequest) throws(ControlError) {
        switch request.cmd {
        case "status": self = .status
        case "watch": self = .watch
        case "time_confirm": self = .confirmTime
        case "update_reported": self = .updateReported
        case "pulse":
            let s = request.seconds ?? 5
            guard s > 0, s <= 600 else { throw ControlError("pulse seconds must be in (0, 600], got \(s)") }
            self = .pulse(.milliseconds(Int64(s * 1000)))
        case "lockdown":
            guard let on = request.on else { throw ControlError("lockdown needs \"on\": true or false") }
            self = .lockdown(on)
        case "passage":
            switch request.mode {
            case "on": self = .passage(true)
            case "off": self = .passage(false)
            case "auto": self = .passage(nil)
            default: throw ControlError("passage mode must be on, off or auto")
            }
        case "access_apply":
            guard let token = request.token else { throw ControlError("access_apply needs token") }
            self = .accessApply(token: token)
        case "command_apply":
            guard let token = request.token else { throw ControlError("command_apply needs token") }
            self = .commandApply(token: token)
        case "sim_input":
            guard let name = request.input, let input = DoorInput(rawValue: name), let active = request.active else {
                throw ControlError("sim_input needs input (door_contact, rex, tamper) and active (true/false)")
            }
            self = .simInput(input, active: active)
        default:
            throw ControlError("unknown command '\(request.cmd)'; known: \(Self.names.joined(separator: ", "))")
        }
    }
}
