import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A real dbus-daemon on a Unix socket in its own temporary folder, for one test: the bus wardend's advertiser
/// talks to, with `busctl` as the other client. Stopped (terminated and waited for) by `stop`.
final class DBusDaemon: Sendable {
    static let executable = "/usr/bin/dbus-daemon"

    let directory: URL
    let address: String
    private let process: Process

    struct StartError: Error, CustomStringConvertible {
        var description: String
    }

    private init(directory: URL, address: String, process: Process) {
        self.directory = directory
        self.address = address
        self.process = process
    }

    static func start() async throws -> DBusDaemon {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("warden-dbus-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let socket = directory.appendingPathComponent("bus").path
        let config = directory.appendingPathComponent("bus.conf")
        try """
        <!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
         "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
        <busconfig>
          <type>session</type>
          <listen>unix:path=\(socket)</listen>
          <auth>EXTERNAL</auth>
          <policy context="default">
            <allow send_destination="*" eavesdrop="true"/>
            <allow eavesdrop="true"/>
            <allow own="*"/>
          </policy>
        </busconfig>

        """.write(to: config, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["--config-file=\(config.path)", "--nofork", "--nopidfile"]
        let log = directory.appendingPathComponent("dbus.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        try? handle.close()
        let daemon = DBusDaemon(directory: directory, address: "unix:path=\(socket)", process: process)
        let deadline = ContinuousClock.now.advanced(by: .seconds(10))
        while !FileManager.default.fileExists(atPath: socket) {
            guard process.isRunning, ContinuousClock.now < deadline else {
                let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
                daemon.stop()
                throw StartError(description: "dbus-daemon did not create \(socket):\n\(output)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        return daemon
    }

    /// Runs `busctl --address=<this bus> ARGS...`; returns its exit status and standard output + error.
    func busctl(_ arguments: String...) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/busctl")
        process.arguments = ["--address=\(address)"] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Terminates the daemon (SIGKILL after 2 s: the test runner's threads block SIGTERM and children inherit it),
    /// waits for it and removes its folder.
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
