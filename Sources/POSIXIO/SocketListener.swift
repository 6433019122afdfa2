import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A listening Unix (stream or seqpacket) or TCP socket whose accept loop runs as a task through `IOReactor`.
///
/// Transient failures (out of descriptors or memory: EMFILE, ENFILE, ENOBUFS, ENOMEM) do not end the loop: it
/// backs off (50 ms doubling to 2 s) and tries again, so a burst of connections cannot take a door's listener down
/// for good. Only a permanent failure ends it; `isAlive` then turns false and the daemon's watchdog sees it.
public final class SocketListener: Sendable {
    public let description: String
    public let port: Int?
    private let handle: SocketHandle
    private let kind: ConnectedSocket.Kind
    private let alive = Atomic<Bool>(true)
    private let lastErrorText = Mutex<String?>(nil)
    private let task = Mutex<Task<Void, Never>?>(nil)

    /// A Unix socket at `path` (mode 0600), seqpacket or stream.
    public static func unix(
        path: String,
        kind: ConnectedSocket.Kind,
        what: String
    ) throws(SocketError) -> SocketListener {
        let type = kind == .stream ? Int32(SOCK_STREAM.rawValue) : Int32(SOCK_SEQPACKET.rawValue)
        let fd = try UnixSocketAddress.listen(path: path, type: type, what: what)
        return SocketListener(fd: fd, kind: kind, description: "unix:\(path)", port: nil)
    }

    /// TCP on host:port (port 0 picks a free one; read it from `port`).
    public static func tcp(host: String, port: Int, what: String) throws(SocketError) -> SocketListener {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SocketError.fromErrno(errno, "\(what): socket") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        guard var addr = ipv4(host, port) else {
            close(fd)
            throw SocketError(.invalidArgument, "\(what) host '\(host)' is not an IPv4 address")
        }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard rc == 0, listen(fd, 16) == 0 else {
            let err = errno
            close(fd)
            throw SocketError(.system, errno: err, "\(what) \(host):\(port): \(String(cString: strerror(err)))")
        }
        var bound = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &bound) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        let actual = Int(UInt16(bigEndian: bound.sin_port))
        return SocketListener(fd: fd, kind: .stream, description: "tcp:\(host):\(actual)", port: actual)
    }

    private init(fd: Int32, kind: ConnectedSocket.Kind, description: String, port: Int?) {
        self.handle = SocketHandle(fd: fd)
        self.kind = kind
        self.description = description
        self.port = port
    }

    /// False once the accept loop has ended for a reason other than `stop()`.
    public var isAlive: Bool { alive.load(ordering: .acquiring) }
    /// The last accept failure, transient or not (for status and logs).
    public var lastError: String? { lastErrorText.withLock { $0 } }

    /// Starts the accept loop; `onAccept` gets each connection.
    public func start(onAccept: @escaping @Sendable (ConnectedSocket) -> Void) {
        let t = Task { [self] in await acceptLoop(onAccept) }
        task.withLock { $0 = t }
    }

    private func acceptLoop(_ onAccept: @escaping @Sendable (ConnectedSocket) -> Void) async {
        var backoff = Duration.milliseconds(50)
        while !handle.closed {
            do {
                let socket = try await acceptOne()
                backoff = .milliseconds(50)
                onAccept(socket)
            } catch {
                if handle.closed { return }
                lastErrorText.withLock { $0 = error.message }
                guard error.isTransient else {
                    alive.store(false, ordering: .releasing)
                    return
                }
                try? await Task.sleep(for: backoff)
                backoff = min(backoff * 2, .seconds(2))
            }
        }
    }

    /// Accepts one connection (the accept loop's step; `Self.acceptFault` may replace the syscall in tests).
    func acceptOne() async throws(SocketError) -> ConnectedSocket {
        let kind = self.kind
        let what = "accepting on \(description)"
        let accepted = try await handle.perform(.readable, what) { fd -> Result<(Int32, String), SocketError>? in
            if let injected = Self.acceptFault.withLock({ f in f.isEmpty ? nil : f.removeFirst() }) {
                return .failure(SocketError.fromErrno(injected, what))
            }
            var storage = sockaddr_storage()
            var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let c = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { accept(fd, $0, &len) }
            }
            if c >= 0 {
                _ = fcntl(c, F_SETFD, FD_CLOEXEC)
                return .success((c, Self.peerName(c, storage, kind)))
            }
            let err = errno
            if err == EAGAIN || err == EWOULDBLOCK || err == EINTR || err == ECONNABORTED { return nil }
            return .failure(SocketError.fromErrno(err, what))
        }
        return ConnectedSocket(fd: accepted.0, kind: kind, peer: accepted.1)
    }

    /// Errnos the next accepts fail with before the real call (tests only: EMFILE storms without exhausting the
    /// test process's descriptors).
    public static let acceptFault = Mutex<[Int32]>([])

    static func peerName(_ fd: Int32, _ storage: sockaddr_storage, _ kind: ConnectedSocket.Kind) -> String {
        var s = storage
        if s.ss_family == sa_family_t(AF_UNIX) {
            var cred: (pid: Int32, uid: UInt32, gid: UInt32) = (0, 0, 0)  // struct ucred
            var len = socklen_t(MemoryLayout<(Int32, UInt32, UInt32)>.size)
            if getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 { return "unix:uid=\(cred.uid)" }
            return "unix:?"
        }
        return withUnsafePointer(to: &s) {
            $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { sin in
                var a = sin.pointee.sin_addr
                var buf = [CChar](repeating: 0, count: 64)
                inet_ntop(AF_INET, &a, &buf, 64)
                return "tcp:" + String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            }
        }
    }

    static func ipv4(_ host: String, _ port: Int) -> sockaddr_in? {
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(truncatingIfNeeded: port).bigEndian)
        guard inet_pton(AF_INET, host, &addr.sin_addr) == 1 else { return nil }
        return addr
    }

    /// Stops accepting; the socket is closed, a Unix socket's file is left to its owner.
    public func stop() {
        handle.close()
        task.withLock { $0?.cancel() }
    }
}
