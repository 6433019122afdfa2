import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A real mosquitto 2.x broker on a free loopback port in its own temporary folder. `restart()` brings it back on
/// the same port (sessions and retained messages gone: `persistence false`), as a broker upgrade or crash would.
public final class MosquittoBroker: Sendable {
    public static let executable = "/usr/sbin/mosquitto"

    /// The broker of the suite that is running, set by a suite trait for every test inside it.
    @TaskLocal public static var current: MosquittoBroker?

    public let host = "127.0.0.1"
    public let port: Int
    public let directory: URL
    private let configFile: URL
    private let server: Mutex<ServerProcess?>

    public struct StartError: Error, CustomStringConvertible {
        public var description: String
    }

    /// - Parameter extraConfig: more mosquitto.conf lines (limits, ACL and password files).
    public static func start(extraConfig: String = "") async throws -> MosquittoBroker {
        let directory = try ServerProcess.makeDirectory("mosquitto")
        let port = try freeLoopbackPort()
        let config = directory.appendingPathComponent("mosquitto.conf")
        try """
        listener \(port) 127.0.0.1
        persistence false
        log_dest stderr
        log_type all
        \(extraConfig.contains("allow_anonymous") ? "" : "allow_anonymous true")
        \(extraConfig)

        """.write(to: config, atomically: true, encoding: .utf8)
        let broker = MosquittoBroker(port: port, directory: directory, configFile: config)
        try await broker.launch()
        return broker
    }

    private init(port: Int, directory: URL, configFile: URL) {
        self.port = port
        self.directory = directory
        self.configFile = configFile
        self.server = Mutex(nil)
    }

    private func launch() async throws {
        let s = try ServerProcess(
            executable: Self.executable,
            arguments: ["-c", configFile.path],
            directory: directory,
            logName: "mosquitto.log"
        )
        server.withLock { $0 = s }
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: .seconds(10))
        while !Self.acceptsConnections(port: port) {
            guard s.isRunning, clock.now < deadline else {
                let output = s.log
                stop()
                throw StartError(description: "mosquitto did not start listening on port \(port):\n\(output)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Stops the broker, keeping its folder (and port) for `start()` again.
    public func halt() {
        server.withLock { $0 }?.stop(keepDirectory: true)
        server.withLock { $0 = nil }
    }

    /// Starts it again after `halt()`.
    public func resume() async throws { try await launch() }

    /// SIGSTOP / SIGCONT: a broker that holds its connections and answers nothing (no PUBACK, no PINGRESP).
    public func freeze() { server.withLock { $0 }?.pause() }
    public func thaw() { server.withLock { $0 }?.resume() }

    /// Halt and start again on the same port.
    public func restart() async throws {
        halt()
        try await launch()
    }

    /// Stops the broker and removes its folder.
    public func stop() {
        halt()
        try? FileManager.default.removeItem(at: directory)
    }

    /// The broker's log so far, for failure messages.
    public var log: String {
        (try? String(contentsOf: directory.appendingPathComponent("mosquitto.log"), encoding: .utf8)) ?? ""
    }

    /// A port nobody listens on right now: bind port 0 and read back what the kernel chose.
    public static func freeLoopbackPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw StartError(description: "socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var address = loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else { throw StartError(description: "bind: \(String(cString: strerror(errno)))") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    public static func acceptsConnections(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = loopback(port: port)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        } == 0
    }

    static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        return address
    }
}
