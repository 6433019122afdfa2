/// The board's answer to every signed command, executed or refused, so the cloud can tell a manager what happened.
public struct CommandResult: Codable, Sendable, Equatable {
    public enum Code: String, Codable, Sendable {
        case ok
        case badSignature = "bad_signature"
        case wrongDevice = "wrong_device"
        case expired
        case replayed
        case timeUnknown = "time_unknown"
        case unsupported
        case malformed
        /// The board could not record the nonce (store failure), so it did not execute the command.
        case failed
    }

    /// The command's nonce; empty when the command could not be read at all.
    public var jti: String
    public var ok: Bool
    public var code: Code
    public var detail: String?

    public init(jti: String, code: Code, detail: String? = nil) {
        self.jti = jti
        self.ok = code == .ok
        self.code = code
        self.detail = detail
    }
}
