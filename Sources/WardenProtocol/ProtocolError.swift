/// A key-presentation exchange failed. `code` is what travels on the wire and what a phone shows; `message` is for
/// logs and never contains key material or credential contents.
public struct ProtocolError: Error, Sendable, Equatable, CustomStringConvertible {
    public var code: ResultCode
    public var message: String
    public init(_ code: ResultCode, _ message: String) {
        self.code = code
        self.message = message
    }
    public var description: String { "\(code.name): \(message)" }
}
