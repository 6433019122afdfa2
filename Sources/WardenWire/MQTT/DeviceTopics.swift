/// The topic tree of contract v1 (docs/mqtt.md section 3): every topic of one board is
/// `warden/v1/{org}/{dev}/{leaf}`, so broker ACL patterns need no per-device entries and a receiver can tell from the
/// topic alone whose message it is (and still checks the device again inside every signed payload).
public struct DeviceTopics: Sendable, Hashable {
    /// The last part(s) of a board's topics, after `warden/v1/{org}/{dev}/`.
    public enum Leaf: String, Sendable, CaseIterable {
        case online
        case state
        case alarm
        case audit
        case auditAck = "audit/ack"
        case access
        case accessRequest = "access/request"
        case cmd
        case cmdResult = "cmd/result"
        case timeRequest = "time/request"
        case time
        case certRequest = "cert/request"
        case cert
        case certInstalled = "cert/installed"

        /// Published by the board (the rest by the cloud).
        public var fromBoard: Bool {
            switch self {
            case .online, .state, .alarm, .audit, .accessRequest, .cmdResult, .timeRequest, .certRequest,
                .certInstalled:
                true
            case .auditAck, .access, .cmd, .time, .cert: false
            }
        }
    }

    public static let prefix = "warden/v1"
    /// The shared-subscription group every consumer instance joins (docs/mqtt.md section 3).
    public static let consumerGroup = "warden-consumers"

    public var org: String
    public var dev: String

    /// Ids are what ACL patterns and topic filters can carry safely: `[a-z0-9-]{1,64}`.
    public init(org: String, dev: String) throws(WireError) {
        try Self.checkID(org, "org")
        try Self.checkID(dev, "device id")
        self.org = org
        self.dev = dev
    }

    public func topic(_ leaf: Leaf) -> String { "\(Self.prefix)/\(org)/\(dev)/\(leaf.rawValue)" }

    /// `$share/warden-consumers/warden/v1/+/+/{leaf}`: what a consumer subscribes to.
    public static func sharedFilter(_ leaf: Leaf) -> String {
        "$share/\(consumerGroup)/\(prefix)/+/+/\(leaf.rawValue)"
    }

    /// Splits a received topic into the board it is about and its leaf; nil for anything outside contract v1.
    public static func parse(_ topic: String) -> (topics: DeviceTopics, leaf: Leaf)? {
        let parts = topic.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count >= 5, parts[0] == "warden", parts[1] == "v1",
            let leaf = Leaf(rawValue: parts[4...].joined(separator: "/")),
            let topics = try? DeviceTopics(org: String(parts[2]), dev: String(parts[3]))
        else { return nil }
        return (topics, leaf)
    }

    public static func isValidID(_ id: String) -> Bool {
        !id.isEmpty && id.utf8.count <= 64
            && id.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D }
    }

    static func checkID(_ id: String, _ what: String) throws(WireError) {
        guard isValidID(id) else {
            throw WireError("\(what) '\(id)' is not usable in topics: use 1-64 of a-z, 0-9 and '-'")
        }
    }
}
