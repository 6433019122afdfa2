/// A message that does not follow the contract (docs/mqtt.md): says what was wrong so the log names it.
public struct WireError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
