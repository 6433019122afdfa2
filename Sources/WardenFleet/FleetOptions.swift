import Foundation

/// What `wardenctl fleet-sim` runs: how many boards, against which broker, making decisions how fast.
public struct FleetOptions: Sendable {
    public var org: String
    public var host: String
    public var port: Int
    /// Device ids are `{prefix}-{index:05}` and their doors `door-{device id}`: what `warden-cloud fleet-add` registers.
    public var prefix = "sim"
    public var count: Int
    /// The most boards one process holds: about 8 descriptors each, and libmosquitto's select() loop refuses a
    /// socket numbered past 1023 (measured: 1,000 boards in one process held 8,012 descriptors and none connected).
    public static let maxBoardsPerProcess = 120
    /// The first index, so several simulator processes can share one fleet.
    public var first = 0
    /// Each board's config, SQLite store and journal live in `{directory}/{device id}`; reused by the next run.
    public var directory: String
    /// Authority public keys by kid, as in wardend's `authority_keys`.
    public var authorityKeys: [String: String]
    /// A credential token every board decides on (issued for the door group `fleet`); without one, the boards'
    /// decisions are request-to-exit presses.
    public var credentialToken: String?
    /// Decisions per second per board once connected.
    public var rate: Double = 0
    /// Decisions each board makes offline before it first connects (an outage's backlog, uploaded on connection).
    public var backlog = 0
    /// How long to run; nil runs until SIGINT or SIGTERM.
    public var duration: Duration?
    /// After the run, how long to wait for every board's audit to be acknowledged.
    public var drain: Duration = .seconds(60)
    /// A broker password file every board uses, with its device id as user name (mosquitto's password file then
    /// holds one entry per board, as the project's ACL expects).
    public var passwordFile: String?
    /// wardend's `sync.ack_timeout_ms` (nil: its default, 30 s).
    public var ackTimeoutMillis: Int?
    public var firstReconnectDelay: ClosedRange<UInt32> = 1...3
    /// JSON lines, one per access-list version a board applied: `{"dev":…,"ver":…,"t_ms":…}`.
    public var appliedLog: String?
    /// The summary as JSON (besides the human summary on stdout).
    public var summaryPath: String?
    public var progressEvery: Duration = .seconds(5)
    /// Simulated installs of the update orders the boards verify and hand over; nil: the orders wait in their files,
    /// as on a board whose updater is stopped.
    public var updates: FleetUpdater.Options?
    /// How many boards are set up at once (SQLite migrations dominate a first start).
    public var setupParallelism = 4

    public init(org: String, host: String, port: Int, count: Int, directory: String, authorityKeys: [String: String]) {
        self.org = org
        self.host = host
        self.port = port
        self.count = count
        self.directory = directory
        self.authorityKeys = authorityKeys
    }

    public func deviceID(_ index: Int) -> String { "\(prefix)-\(String(format: "%05d", index))" }
}
