/// What an audit record is about. Raw values are stored and sent to the cloud: never renumber or rename.
public enum AuditKind: String, Sendable, Codable, CaseIterable {
    case accessGranted = "access_granted"
    case accessDenied = "access_denied"
    case relay = "relay"
    case input = "input"
    case alarm = "alarm"
    case alarmCleared = "alarm_cleared"
    case mode = "mode"
    case config = "config"
    case daemon = "daemon"
    /// A remote command (MQTT, authority-signed): executed or refused, with the result code as the reason.
    case command = "command"
    case malformed = "malformed"
    /// Records were pruned before the cloud acknowledged them (store hard-full); `detail` names the range.
    case gap = "gap"
}
