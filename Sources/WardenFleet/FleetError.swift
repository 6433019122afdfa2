/// A fleet that cannot start: what was wrong and what to do.
public struct FleetError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
