import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A real mosquitto 2.x broker on a free loopback port in its own temporary folder, started for one suite by the
/// `.mosquittoBroker` trait and stopped (terminated and waited for) when the suite ends.
final class MosquittoBroker: Sendable {
    static let executable = "/usr/sbin/mosquitto"

    /// The broker of the suite that is running, set by the trait for every test inside it.
    @TaskLocal static var current: MosquittoBroker?

    let host = "127.0.0.1"
    let port: Int
    private let server: ServerProcess
    var directory: URL { server.directory }

    struct StartError: Error, CustomStringConvertible {
        var description: String
    }

    private init(port: Int, server: ServerProcess) {
        self.port = port
        self.server = server
    }

    static func start() async throws -> MosquittoBroker {
        let directory = try ServerProcess.makeDirectory("mosquitto")
        let port = try freeLoopbackPort()
        let config = directory.appendingPathComponent("mosquitto.conf")
        try """
        listener \(port) 127.0.0.1
        allow_anonymous true
        persistence false
        log_dest stderr
        log_type all

        """.write(to: config, atomically: true, encoding: .utf8)
        let server = try ServerProcess(
            executable: executable,
            arguments: ["-c", config.path],
            directory: directory,
            logName: "mosquitto.log"
        )
        let broker = MosquittoBroker(port: port, server: server)
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: .seconds(10))
        while !acceptsConnections(port: port) {
            guard server.isRunning, clock.now < deadline else {
                let output = server.log
                broker.stop()
                throw StartError(description: "mosquitto did not start listening on port \(port):\n\(output)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        return broker
    }

    /// Stops the broker and removes its folder (`ServerProcess.stop`).
    func stop() { server.stop() }

    /// The broker's log so far, for failure messages.
    var log: String { server.log }

    /// A port nobody listens on right now: bind port 0 and read back what the kernel chose.
    static func freeLoopbackPort() throws -> Int {
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

    static func acceptsConnections(port: Int) -> Bool {
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

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        return address
    }
}

/// Starts one broker around a whole suite and exposes it as `MosquittoBroker.current`.
struct MosquittoBrokerTrait: SuiteTrait, TestScoping {
    var isRecursive: Bool { false }

    func provideScope(
        for test: Test,
        testCase: Test.Case?,
        performing function: @Sendable () async throws -> Void
    ) async throws {
        let broker = try await MosquittoBroker.start()
        defer { broker.stop() }
        try await MosquittoBroker.$current.withValue(broker) {
            try await function()
        }
    }
}

extension Trait where Self == MosquittoBrokerTrait {
    /// A real mosquitto broker for the suite, on a free loopback port.
    static var mosquittoBroker: Self { Self() }
}
