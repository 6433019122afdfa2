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
    let directory: URL
    private let process: Process

    struct StartError: Error, CustomStringConvertible {
        var description: String
    }

    private init(port: Int, directory: URL, process: Process) {
        self.port = port
        self.directory = directory
        self.process = process
    }

    static func start() async throws -> MosquittoBroker {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("warden-mosquitto-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let port = try freeLoopbackPort()
        let config = directory.appendingPathComponent("mosquitto.conf")
        let log = directory.appendingPathComponent("mosquitto.log")
        try """
        listener \(port) 127.0.0.1
        allow_anonymous true
        persistence false
        log_dest stderr
        log_type all

        """.write(to: config, atomically: true, encoding: .utf8)
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["-c", config.path]
        // The broker may drop root privileges; the already-open descriptor keeps the log writable.
        let logHandle = try FileHandle(forWritingTo: log)
        process.standardError = logHandle
        process.standardOutput = logHandle
        try process.run()
        try? logHandle.close()

        let broker = MosquittoBroker(port: port, directory: directory, process: process)
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: .seconds(10))
        while !acceptsConnections(port: port) {
            guard process.isRunning, clock.now < deadline else {
                let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
                broker.stop()
                throw StartError(description: "mosquitto did not start listening on port \(port):\n\(output)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        return broker
    }

    /// Terminates the broker, waits for it to exit and removes its folder.
    ///
    /// The test runner's threads block SIGTERM and a spawned child inherits that mask, so `terminate()` alone may
    /// never reach mosquitto; after a bounded wait it is killed (safe: `persistence false`, nothing to flush).
    func stop() {
        if process.isRunning {
            process.terminate()
            let deadline = ContinuousClock.now.advanced(by: .seconds(2))
            while process.isRunning, ContinuousClock.now < deadline {
                usleep(10_000)
            }
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
            }
        }
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: directory)
    }

    /// The broker's log so far, for failure messages.
    var log: String {
        (try? String(contentsOf: directory.appendingPathComponent("mosquitto.log"), encoding: .utf8)) ?? ""
    }

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
