/// A cloud operation or setting that cannot go ahead; the message names what and what to do.
public struct CloudError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: Sendable, Equatable { case config, notFound, conflict, database, broker, invalid }
    public var code: Code
    public var description: String
    public init(_ code: Code, _ description: String) {
        self.code = code
        self.description = description
    }
}
