import Foundation
import WardenTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// A real dbus-daemon on a Unix socket in its own temporary folder, for one test: the bus wardend's advertiser
/// talks to, with `busctl` as the other client. Stopped (terminated and waited for) by `stop`.
final class DBusDaemon: Sendable {
    static let executable = "/usr/bin/dbus-daemon"

    let address: String
    private let server: ServerProcess
    var directory: URL { server.directory }

    struct StartError: Error, CustomStringConvertible {
        var description: String
    }

    private init(address: String, server: ServerProcess) {
        self.address = address
        self.server = server
    }

    static func start() async throws -> DBusDaemon {
        let directory = try ServerProcess.makeDirectory("dbus")
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
        let server = try ServerProcess(
            executable: executable,
            arguments: ["--config-file=\(config.path)", "--nofork", "--nopidfile"],
            directory: directory,
            logName: "dbus.log"
        )
        let daemon = DBusDaemon(address: "unix:path=\(socket)", server: server)
        let deadline = ContinuousClock.now.advanced(by: .seconds(10))
        while !FileManager.default.fileExists(atPath: socket) {
            guard server.isRunning, ContinuousClock.now < deadline else {
                let output = server.log
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
        return (
            process.terminationStatus,
            String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        )
    }

    /// Stops the daemon and removes its folder (`ServerProcess.stop`).
    func stop() { server.stop() }
}
