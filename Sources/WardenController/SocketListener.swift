import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Listening sockets for the development transports: a Unix seqpacket socket at a path (mode 0600) and TCP on a
/// host:port. Accepts on a dedicated thread and hands each connection over as a `SocketFrameChannel`.
public final class SocketListener: Sendable {
    public let description: String
    public let port: Int?
    private let fd: Int32

    public static func unix(path: String, onAccept: @escaping @Sendable (SocketFrameChannel) -> Void) throws(ControlError) -> SocketListener {
        let fd = try UnixSocketAddress.listen(path: path, type: Int32(SOCK_SEQPACKET.rawValue), what: "presentation socket")
        let l = SocketListener(fd: fd, description: "unix:\(path)", port: nil)
        l.start(kind: .seqpacket, onAccept: onAccept)
        return l
    }

    /// TCP on host:port (port 0 picks a free one; read it from `port`).
    public static func tcp(host: String, port: Int, onAccept: @escaping @Sendable (SocketFrameChannel) -> Void) throws(ControlError) -> SocketListener {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ControlError("tcp socket: \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host, &addr.sin_addr) == 1 else {
            close(fd)
            throw ControlError("presentation tcp host '\(host)' is not an IPv4 address")
        }
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard rc == 0, listen(fd, 16) == 0 else {
            let e = String(cString: strerror(errno))
            close(fd)
            throw ControlError("presentation tcp \(host):\(port): \(e)")
        }
        var bound = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &bound) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        let actual = Int(UInt16(bigEndian: bound.sin_port))
        let l = SocketListener(fd: fd, description: "tcp:\(host):\(actual)", port: actual)
        l.start(kind: .stream, onAccept: onAccept)
        return l
    }

    private init(fd: Int32, description: String, port: Int?) {
        self.fd = fd
        self.description = description
        self.port = port
    }

    private func start(kind: SocketFrameChannel.Kind, onAccept: @escaping @Sendable (SocketFrameChannel) -> Void) {
        let fd = self.fd
        Thread.detachNewThread {
            while true {
                var storage = sockaddr_storage()
                var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
                let c = withUnsafeMutablePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { accept(fd, $0, &len) } }
                if c < 0 {
                    if errno == EINTR || errno == ECONNABORTED { continue }
                    return
                }
                onAccept(SocketFrameChannel(fd: c, kind: kind, peer: Self.peerName(c, storage, kind)))
            }
        }
    }

    static func peerName(_ fd: Int32, _ storage: sockaddr_storage, _ kind: SocketFrameChannel.Kind) -> String {
        if kind == .seqpacket {
            var cred: (pid: Int32, uid: UInt32, gid: UInt32) = (0, 0, 0)  // struct ucred
            var len = socklen_t(MemoryLayout<(Int32, UInt32, UInt32)>.size)
            if getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 { return "unix:uid=\(cred.uid)" }
            return "unix:?"
        }
        var s = storage
        return withUnsafePointer(to: &s) {
            $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { sin in
                var a = sin.pointee.sin_addr
                var buf = [CChar](repeating: 0, count: 64)
                inet_ntop(AF_INET, &a, &buf, 64)
                return "tcp:" + String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            }
        }
    }

    public func stop() {
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }
}
