import Foundation

/// Runs a system tool (systemctl) and fails with its output when it fails.
enum SystemCommand {
    @discardableResult
    static func run(_ executable: String, _ arguments: [String], what: String) throws -> String {
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw CLIError("\(what): \(executable) is not installed")
        }
        guard let r = Subprocess.run(executable, arguments) else {
            throw CLIError("\(what): cannot run \(executable)")
        }
        guard r.status == 0 else {
            throw CLIError(
                "\(what) failed: \(executable) \(arguments.joined(separator: " ")) exited \(r.status): \(r.output)"
            )
        }
        return r.output
    }
}
