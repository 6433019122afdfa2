import WardenWire

/// One request on wardend's local control socket (newline-delimited JSON). docs/operations.md lists the commands.
public struct ControlRequest: Codable, Sendable, Equatable {
    public var cmd: String
    public var seconds: Double?
    public var on: Bool?
    public var mode: String?
    public var token: String?
    public var input: String?
    public var active: Bool?

    public init(
        cmd: String,
        seconds: Double? = nil,
        on: Bool? = nil,
        mode: String? = nil,
        token: String? = nil,
        input: String? = nil,
        active: Bool? = nil
    ) {
        self.cmd = cmd
        self.seconds = seconds
        self.on = on
        self.mode = mode
        self.token = token
        self.input = input
        self.active = active
    }
}

/// The answer: `ok` plus whichever fields the command fills; `error` says what was wrong with the request.
public struct ControlResponse: Codable, Sendable, Equatable {
    public var ok: Bool
    public var error: String?
    public var status: ControllerStatus?
    public var version: Int64?
    public var record: WatchedRecord?
    /// `command_apply`: the board's answer, as the cloud would get it over MQTT.
    public var result: CommandResult?

    public init(ok: Bool, error: String? = nil) {
        self.ok = ok
        self.error = error
    }

    public static func failure(_ message: String) -> ControlResponse { ControlResponse(ok: false, error: message) }
}

/// An audit record as `watch` streams it.
public struct WatchedRecord: Codable, Sendable, Equatable {
    public var seq: Int64
    public var timeMillis: Int64
    public var kind: String
    public var reason: String?
    public var detail: String?
    public var credentialID: String?
    public var userID: String?
}
