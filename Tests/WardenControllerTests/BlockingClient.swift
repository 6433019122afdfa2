import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The phone side of an end-to-end test, on a thread of its own with blocking socket calls. wardend enforces real
/// deadlines (1 s for HELLO, the session timeout); if the client ran as async tasks, a test process whose cooperative
/// pool is busy with CPU-heavy tests (two threads on this machine) could miss them and fail for no fault of wardend's.
final class BlockingClient {
    struct Closed: Error {}
    private let fd: Int32

    init(unix path: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            let bytes = Array(path.utf8.prefix(raw.count - 1))
            raw.copyBytes(from: bytes + [0])
        }
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard rc == 0 else {
            let e = errno
            close(fd)
            throw POSIXError(.init(rawValue: e) ?? .EIO)
        }
    }

    deinit { close(fd) }

    func send(_ frame: [UInt8]) throws {
        let n = frame.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        guard n == frame.count else { throw Closed() }
    }

    /// The next frame; throws `Closed` when the lock closed the connection.
    func receive() throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { throw Closed() }
        return Array(buffer.prefix(n))
    }

    /// Runs `body` on a new thread (not the cooperative pool) and returns its result.
    static func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, any Error>) in
            let thread = Thread { c.resume(with: Result { try body() }) }
            thread.start()
        }
    }
}
