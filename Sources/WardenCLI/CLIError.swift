/// A wardenctl command could not do what was asked; the message says what to fix.
struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
