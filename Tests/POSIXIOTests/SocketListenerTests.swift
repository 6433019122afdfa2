import Foundation
import POSIXIO
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The accept loop under descriptor and memory exhaustion, and the reactor's wake-ups, on real sockets.
@Suite(.serialized) struct SocketListenerTests {
    static func tempPath(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("posixio-\(UUID().uuidString.prefix(8))-\(name)")
            .path
    }

    @Test func transientAcceptFailuresBackOffAndTheLoopKeepsServing() async throws {
        let path = Self.tempPath("l.sock")
        defer { unlink(path) }
        let listener = try SocketListener.unix(path: path, kind: .stream, what: "test socket")
        let accepted = Mutex(0)
        SocketListener.acceptFault.withLock { $0 = [EMFILE, ENFILE, ENOMEM, ENOBUFS] }
        listener.start { c in
            accepted.withLock { $0 += 1 }
            c.close()
        }
        let client = try ConnectedSocket.connect(unix: path, kind: .stream)
        for _ in 0..<300 where accepted.withLock({ $0 }) == 0 { try await Task.sleep(for: .milliseconds(10)) }
        #expect(accepted.withLock { $0 } == 1, "the connection was accepted after four transient failures")
        #expect(listener.isAlive)
        #expect(listener.lastError?.contains("No buffer space") == true, "the last of the four is kept")
        client.close()

        // A permanent failure ends the loop, and says so.
        SocketListener.acceptFault.withLock { $0 = [EINVAL] }
        let second = try ConnectedSocket.connect(unix: path, kind: .stream)
        for _ in 0..<300 where listener.isAlive { try await Task.sleep(for: .milliseconds(10)) }
        #expect(!listener.isAlive)
        second.close()
        listener.stop()
    }

    @Test func closeWakesAPendingReceiveAndCancellationToo() async throws {
        var fds: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
        let a = ConnectedSocket(fd: fds[0], kind: .stream, peer: "a")
        let b = ConnectedSocket(fd: fds[1], kind: .stream, peer: "b")
        let pending = Task { try await a.receive(upTo: 16) }
        try await Task.sleep(for: .milliseconds(50))
        try await b.send([1, 2, 3])
        #expect(try await pending.value == [1, 2, 3])
        let waiting = Task { try await a.receive(upTo: 16) }
        try await Task.sleep(for: .milliseconds(50))
        a.close()
        await #expect(throws: SocketError.self) { try await waiting.value }
        let cancelled = Task { try await b.receive(upTo: 16) }
        try await Task.sleep(for: .milliseconds(50))
        cancelled.cancel()
        await #expect(throws: SocketError.self) { try await cancelled.value }
    }

    /// A thousand concurrent waits cost no thread each: the process's thread count stays flat.
    @Test func manyPendingReceivesUseNoThreadEach() async throws {
        func threads() -> Int {
            let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
            return Int(
                status.split(separator: "\n").first { $0.hasPrefix("Threads:") }?.split(separator: "\t").last ?? "0"
            ) ?? 0
        }
        var pairs: [(ConnectedSocket, ConnectedSocket)] = []
        for _ in 0..<200 {
            var fds: [Int32] = [0, 0]
            guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0 else { break }
            pairs.append(
                (
                    ConnectedSocket(fd: fds[0], kind: .stream, peer: "x"),
                    ConnectedSocket(fd: fds[1], kind: .stream, peer: "y")
                )
            )
        }
        try #require(pairs.count == 200, "socketpair failed after \(pairs.count) pairs")
        let before = threads()
        try #require(before > 0, "read the thread count from /proc/self/status")
        let tasks = pairs.map { p in Task { try? await p.0.receive(upTo: 8) } }
        try await Task.sleep(for: .milliseconds(200))
        let during = threads()
        #expect(during - before < 10, "\(pairs.count) pending receives added \(during - before) threads")
        for p in pairs { try await p.1.send([7]) }
        for t in tasks { #expect(await t.value == [7]) }
    }
}
