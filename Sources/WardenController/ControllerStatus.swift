/// A snapshot for `wardenctl status` and the cloud's state topic.
public struct ControllerStatus: Sendable, Codable, Equatable {
    public var door: String
    public var lockID: String
    public var board: String
    public var relayUnlocked: Bool
    public var relayEnergized: Bool
    public var doorClosed: Bool
    public var rexActive: Bool
    public var tamperActive: Bool
    public var passage: Bool
    public var lockdown: Bool
    public var alarms: [String]
    public var accessListVersion: Int64
    public var auditLastSeq: Int64
    public var auditDurableSeq: Int64
    public var timeTrusted: Bool
}
