#if canImport(Glibc)
import Glibc
#endif

/// A connected stream or seqpacket socket (Unix or TCP) with async reads and writes through `IOReactor`.
public final class ConnectedSocket: Sendable {
    public enum Kind: Sendable { case seqpacket, stream }

    public let handle: SocketHandle
    public let kind: Kind
    /// Who is on the other end ("unix:uid=0", "tcp:127.0.0.1").
    public let peer: String

    public init(fd: Int32, kind: Kind, peer: String) {
        self.handle = SocketHandle(fd: fd)
        self.kind = kind
        self.peer = peer
        if kind == .stream {
            var one: Int32 = 1
            _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        }
    }

    /// One read of at most `limit` bytes (one datagram on a seqpacket socket: `limit + 1` detects an oversized one).
    /// Throws `.disconnected` at end of stream.
    public func receive(upTo limit: Int) async throws(SocketError) -> [UInt8] {
        try await handle.perform(.readable, "receiving from \(peer)") { fd -> Result<[UInt8], SocketError>? in
            var got = 0
            let bytes = [UInt8](unsafeUninitializedCapacity: limit) { buffer, count in
                got = recv(fd, buffer.baseAddress, limit, Int32(MSG_DONTWAIT))
                count = max(0, got)
            }
            if got > 0 { return .success(bytes) }
            if got == 0 { return .failure(SocketError(.disconnected, "\(peer) closed the connection")) }
            let err = errno
            if err == EAGAIN || err == EWOULDBLOCK || err == EINTR { return nil }
            return .failure(SocketError.fromErrno(err, "receiving from \(peer)"))
        }
    }

    /// Exactly `n` bytes from a stream.
    public func receive(exactly n: Int) async throws(SocketError) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(n)
        while out.count < n { out += try await receive(upTo: n - out.count) }
        return out
    }

    /// Writes all of `bytes` (one datagram on a seqpacket socket).
    public func send(_ bytes: [UInt8]) async throws(SocketError) {
        var offset = 0
        while offset < bytes.count {
            offset += try await handle.perform(.writable, "sending to \(peer)") { fd -> Result<Int, SocketError>? in
                let n = bytes.withUnsafeBytes { p in
                    Glibc.send(fd, p.baseAddress! + offset, p.count - offset, Int32(MSG_DONTWAIT | MSG_NOSIGNAL))
                }
                if n > 0 { return .success(n) }
                let err = errno
                if n < 0 && (err == EAGAIN || err == EWOULDBLOCK || err == EINTR) { return nil }
                return .failure(
                    n == 0
                        ? SocketError(.disconnected, "\(peer) closed the connection")
                        : SocketError.fromErrno(err, "sending to \(peer)")
                )
            }
        }
    }

    /// Shuts down and wakes pending reads and writes.
    public func close() { handle.close() }

    /// Connects to a Unix socket at `path` (`type`: SOCK_STREAM or SOCK_SEQPACKET).
    public static func connect(unix path: String, kind: Kind) throws(SocketError) -> ConnectedSocket {
        let type = kind == .stream ? Int32(SOCK_STREAM.rawValue) : Int32(SOCK_SEQPACKET.rawValue)
        let fd = socket(AF_UNIX, type | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SocketError.fromErrno(errno, "socket(AF_UNIX)") }
        let addr: sockaddr_un
        do { addr = try UnixSocketAddress.make(path) } catch {
            Glibc.close(fd)
            throw error
        }
        guard UnixSocketAddress.with(addr, { Glibc.connect(fd, $0, $1) }) == 0 else {
            let err = errno
            Glibc.close(fd)
            throw SocketError(.system, errno: err, "cannot reach \(path): \(String(cString: strerror(err)))")
        }
        return ConnectedSocket(fd: fd, kind: kind, peer: "unix:\(path)")
    }

    /// Connects to an IPv4 TCP address.
    public static func connect(tcpHost host: String, port: Int) throws(SocketError) -> ConnectedSocket {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SocketError.fromErrno(errno, "socket(AF_INET)") }
        guard var addr = SocketListener.ipv4(host, port) else {
            Glibc.close(fd)
            throw SocketError(.invalidArgument, "'\(host)' is not an IPv4 address")
        }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard rc == 0 else {
            let err = errno
            Glibc.close(fd)
            throw SocketError(.system, errno: err, "cannot reach \(host):\(port): \(String(cString: strerror(err)))")
        }
        return ConnectedSocket(fd: fd, kind: .stream, peer: "tcp:\(host):\(port)")
    }
}
