/// What a board reports about itself: `wardenctl status` shows it and the cloud's state topic carries it.
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
    /// Records waiting in memory for the store (non-zero for long only while it cannot write).
    public var auditPending: Int
    /// Why the journal cannot write, while it cannot (disk full, I/O error); nil when it can.
    public var auditWriteError: String?
    /// Every listener accepts (the moment READY=1 goes to systemd); false during start-up and shutdown.
    public var ready: Bool
    /// "trusted", "unknown" (clock behind the high-water mark) or "unconfirmed" (jumped far ahead of it).
    public var time: String
    /// The installed warden-board version (nil when not installed from a package).
    public var version: String?
    /// What warden-updater last did (docs/updates.md); nil before the first update order.
    public var update: UpdateReport?

    public init(
        door: String,
        lockID: String,
        board: String,
        relayUnlocked: Bool,
        relayEnergized: Bool,
        doorClosed: Bool,
        rexActive: Bool,
        tamperActive: Bool,
        passage: Bool,
        lockdown: Bool,
        alarms: [String],
        accessListVersion: Int64,
        auditLastSeq: Int64,
        auditDurableSeq: Int64,
        timeTrusted: Bool,
        auditPending: Int = 0,
        auditWriteError: String? = nil,
        ready: Bool = false,
        time: String = "trusted",
        version: String? = nil,
        update: UpdateReport? = nil
    ) {
        self.door = door
        self.lockID = lockID
        self.board = board
        self.relayUnlocked = relayUnlocked
        self.relayEnergized = relayEnergized
        self.doorClosed = doorClosed
        self.rexActive = rexActive
        self.tamperActive = tamperActive
        self.passage = passage
        self.lockdown = lockdown
        self.alarms = alarms
        self.accessListVersion = accessListVersion
        self.auditLastSeq = auditLastSeq
        self.auditDurableSeq = auditDurableSeq
        self.timeTrusted = timeTrusted
        self.auditPending = auditPending
        self.auditWriteError = auditWriteError
        self.ready = ready
        self.time = time
        self.version = version
        self.update = update
    }
}
