import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A real server a test starts (mosquitto, dbus-daemon): its own temporary folder, its output in a log file there,
/// and a stop that always ends it. The test runner's threads block SIGTERM and a spawned child inherits that mask, so
/// `terminate()` alone may never reach it: after 2 s it is killed (both servers keep nothing to flush).
final class ServerProcess: Sendable {
    let directory: URL
    let logFile: URL
    private let process: Process

    /// A fresh folder for one server, named after it.
    static func makeDirectory(_ name: String) throws -> URL {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("warden-\(name)-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }

    /// Starts `executable` with its output going to `logName` in `directory`.
    init(executable: String, arguments: [String], directory: URL, logName: String) throws {
        self.directory = directory
        self.logFile = directory.appendingPathComponent(logName)
        _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        // A server may drop root privileges; the already-open descriptor keeps the log writable.
        let handle = try FileHandle(forWritingTo: logFile)
        process.standardError = handle
        process.standardOutput = handle
        try process.run()
        try? handle.close()
        self.process = process
    }

    var isRunning: Bool { process.isRunning }

    /// What the server has written so far, for failure messages.
    var log: String { (try? String(contentsOf: logFile, encoding: .utf8)) ?? "" }

    /// Terminates the server (killed after 2 s), waits for it and removes its folder.
    func stop() {
        if process.isRunning {
            process.terminate()
            let deadline = ContinuousClock.now.advanced(by: .seconds(2))
            while process.isRunning, ContinuousClock.now < deadline { usleep(10_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: directory)
    }
}
