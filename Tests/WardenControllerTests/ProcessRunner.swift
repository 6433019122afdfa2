import Foundation
import WardenTestSupport

/// Runs the built executables (`wardend`, `wardenctl`) as real processes.
enum Binaries {
    static var dir: URL {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
            repoRoot.appendingPathComponent(".build/debug"),
        ]
        return candidates.first { FileManager.default.fileExists(atPath: $0.appendingPathComponent("wardend").path) }
            ?? candidates[1]
    }
    static var wardend: String { dir.appendingPathComponent("wardend").path }
    static var wardenctl: String { dir.appendingPathComponent("wardenctl").path }

    /// Runs to completion; returns (exit code, stdout, stderr).
    static func run(_ exe: String, _ args: [String]) throws -> (Int32, String, String) {
        try Command.output(exe, args)
    }
}
