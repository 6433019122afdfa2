import Foundation

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
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = args
        let out = Pipe()
        let err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }
}
