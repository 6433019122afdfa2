import Foundation
import WardenProtocol

#if canImport(Glibc)
import Glibc
#endif

/// The development transports: a Unix SOCK_SEQPACKET connection (one frame per datagram, like an L2CAP SDU) or a
/// TCP connection (frames back to back, the 3-byte header gives the length). Blocking reads run on their own thread,
/// never on Swift's cooperative pool; `close()` shuts the socket down, which wakes a blocked read.
public final class SocketFrameChannel: FrameChannel {
    public enum Kind: Sendable { case seqpacket, stream }

    public let peer: String
    let fd: Int32
    let kind: Kind

    public init(fd: Int32, kind: Kind, peer: String) {
        self.fd = fd
        self.kind = kind
        self.peer = peer
        var one: Int32 = 1
        if kind == .stream { setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size)) }
    }

    deinit { Glibc.close(fd) }

    public func receive() async throws -> [UInt8] {
        let fd = self.fd, kind = self.kind
        return try await withCheckedThrowingContinuation { (c: CheckedContinuation<[UInt8], any Error>) in
            Thread.detachNewThread {
                do { c.resume(returning: try Self.blockingReceive(fd: fd, kind: kind)) } catch { c.resume(throwing: error) }
            }
        }
    }

    static func blockingReceive(fd: Int32, kind: Kind) throws -> [UInt8] {
        let limit = Frame.headerSize + Frame.maxPayload
        switch kind {
        case .seqpacket:
            var buf = [UInt8](repeating: 0, count: limit + 1)
            let n = recv(fd, &buf, buf.count, 0)
            guard n > 0 else { throw ChannelClosed() }
            guard n <= limit else { throw ProtocolError(.badFrame, "datagram larger than the frame limit") }
            return Array(buf[..<n])
        case .stream:
            let header = try readExactly(fd, Frame.headerSize)
            let total = try Frame.totalLength(header: header)
            return header + (try readExactly(fd, total - Frame.headerSize))
        }
    }

    static func readExactly(_ fd: Int32, _ n: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: n)
        var got = 0
        while got < n {
            let r = out.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + got, n - got, 0) }
            if r < 0 && errno == EINTR { continue }
            guard r > 0 else { throw ChannelClosed() }
            got += r
        }
        return out
    }

    public func send(_ frame: [UInt8]) async throws {
        var off = 0
        while off < frame.count {
            let n = frame.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + off, frame.count - off, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw ChannelClosed() }
            off += n
        }
    }

    public func close() { shutdown(fd, Int32(SHUT_RDWR)) }
}

/// The peer went away or the channel was closed.
public struct ChannelClosed: Error, Sendable {}

extension SocketFrameChannel {
    /// Connects to a lock's Unix seqpacket development transport.
    public static func connect(unix path: String) throws(ControlError) -> SocketFrameChannel {
        let fd = socket(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ControlError("socket: \(String(cString: strerror(errno)))") }
        let addr: sockaddr_un
        do { addr = try UnixSocketAddress.make(path) } catch {
            Glibc.close(fd)
            throw error
        }
        let rc = UnixSocketAddress.with(addr) { Glibc.connect(fd, $0, $1) }
        guard rc == 0 else {
            let e = String(cString: strerror(errno))
            Glibc.close(fd)
            throw ControlError("cannot reach the lock at \(path): \(e)")
        }
        return SocketFrameChannel(fd: fd, kind: .seqpacket, peer: "unix:\(path)")
    }

    /// Connects to a lock's TCP development transport.
    public static func connect(tcpHost host: String, port: Int) throws(ControlError) -> SocketFrameChannel {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ControlError("socket: \(String(cString: strerror(errno)))") }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host, &addr.sin_addr) == 1 else {
            Glibc.close(fd)
            throw ControlError("'\(host)' is not an IPv4 address")
        }
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard rc == 0 else {
            let e = String(cString: strerror(errno))
            Glibc.close(fd)
            throw ControlError("cannot reach the lock at \(host):\(port): \(e)")
        }
        return SocketFrameChannel(fd: fd, kind: .stream, peer: "tcp:\(host):\(port)")
    }
}
