/// The board's SQLite store failed or refused a change; the message says which file or version and what to do.
public struct StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: Sendable, Equatable { case open, io, versionGap, wrongDoor, corrupt }
    public var code: Code
    public var message: String
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }
    public var description: String { message }
}
