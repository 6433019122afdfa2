import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A real server a test starts (mosquitto, dbus-daemon, wardend, warden-cloud): its own folder, its output in a log
/// file there, and a stop that always ends it. The test runner's threads block SIGTERM and a spawned child inherits
/// that mask, so `terminate()` alone may never reach it: after a grace period it is killed.
public final class ServerProcess: Sendable {
    public let directory: URL
    public let logFile: URL
    private let process: Process

    /// A fresh folder for one server, named after it.
    public static func makeDirectory(_ name: String) throws -> URL {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("warden-\(name)-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        chmod(directory.path, 0o755)  // servers that drop root (mosquitto) still read their files here
        return directory
    }

    /// Starts `executable` with its output appended to `logName` in `directory`.
    public init(
        executable: String,
        arguments: [String],
        directory: URL,
        logName: String,
        environment: [String: String]? = nil
    ) throws {
        self.directory = directory
        self.logFile = directory.appendingPathComponent(logName)
        if !FileManager.default.fileExists(atPath: logFile.path) {
            _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        }
        // A server may drop root privileges; the already-open descriptor keeps the log writable.
        let handle = try FileHandle(forWritingTo: logFile)
        handle.seekToEndOfFile()
        process.standardError = handle
        process.standardOutput = handle
        try process.run()
        try? handle.close()
        self.process = process
    }

    public var isRunning: Bool { process.isRunning }
    public var pid: Int32 { process.processIdentifier }

    /// What the server has written so far, for failure messages.
    public var log: String { (try? String(contentsOf: logFile, encoding: .utf8)) ?? "" }

    /// Terminates the server (killed after `grace`), waits for it, and removes its folder unless `keepDirectory`.
    public func stop(keepDirectory: Bool = false, grace: Duration = .seconds(2)) {
        if process.isRunning {
            process.terminate()
            let deadline = ContinuousClock.now.advanced(by: grace)
            while process.isRunning, ContinuousClock.now < deadline { usleep(10_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        process.waitUntilExit()
        if !keepDirectory { try? FileManager.default.removeItem(at: directory) }
    }

    /// SIGTERM, then waits up to `within` for the process to exit by itself: true if it did. One that did not is
    /// killed (SIGKILL) before this returns. Its folder stays.
    public func terminate(within: Duration) -> Bool {
        guard process.isRunning else { return true }
        process.terminate()
        let deadline = ContinuousClock.now.advanced(by: within)
        while process.isRunning, ContinuousClock.now < deadline { usleep(10_000) }
        let exited = !process.isRunning
        if !exited { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        return exited
    }

    /// SIGKILL: a crash or a power cut, as far as the process can tell. Its folder stays.
    public func crash() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    /// SIGSTOP / SIGCONT: a process that is alive, holds its connections and does nothing (a slow consumer).
    public func pause() { kill(process.processIdentifier, SIGSTOP) }
    public func resume() { kill(process.processIdentifier, SIGCONT) }
}
