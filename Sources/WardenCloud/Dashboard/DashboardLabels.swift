import Foundation
import WardenWire

/// Words for people: the dashboard shows "Access denied · revoked" where the API says `access_denied` and
/// `revoked`, and so does a Slack message. The API and the CSV keep the codes (scripts and integrators match on them).
enum DashboardLabels {
    static func kind(_ code: String) -> String {
        switch AuditKind(rawValue: code) {
        case .accessGranted: "Access granted"
        case .accessDenied: "Access denied"
        case .relay: "Relay"
        case .input: "Door input"
        case .alarm: "Alarm"
        case .alarmCleared: "Alarm cleared"
        case .mode: "Mode change"
        case .config: "Configuration"
        case .daemon: "Controller"
        case .command: "Remote command"
        case .malformed: "Malformed request"
        case .gap: "Records lost"
        case nil: words(code)
        }
    }

    /// `outside_schedule` reads "outside schedule".
    static func words(_ code: String) -> String {
        code.replacingOccurrences(of: "_", with: " ")
    }
}
