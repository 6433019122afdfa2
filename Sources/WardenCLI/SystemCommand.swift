import Foundation

/// Runs a system tool (systemctl) and fails with its output when it fails.
enum SystemCommand {
    @discardableResult
    static func run(_ executable: String, _ arguments: [String], what: String) throws -> String {
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw CLIError("\(what): \(executable) is not installed")
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        do { try p.run() } catch { throw CLIError("\(what): cannot run \(executable): \(error.localizedDescription)") }
        let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw CLIError(
                "\(what) failed: \(executable) \(arguments.joined(separator: " ")) exited \(p.terminationStatus): \(out)"
            )
        }
        return out
    }
}
