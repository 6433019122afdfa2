#if canImport(Glibc)
import Glibc
#endif

/// A filled-in `sockaddr_un` for a filesystem path, shared by every Unix socket wardend and wardenctl open.
public enum UnixSocketAddress {
    public static func make(_ path: String) throws(SocketError) -> sockaddr_un {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else {
            throw SocketError(
                .invalidArgument,
                "socket path is too long (\(bytes.count) bytes, the limit is 107): \(path)"
            )
        }
        withUnsafeMutableBytes(of: &addr.sun_path) { p in
            for (i, b) in bytes.enumerated() { p[i] = b }
        }
        return addr
    }

    /// Runs `body` with the address as a `sockaddr` pointer and its length (for bind and connect).
    public static func with<T>(_ addr: sockaddr_un, _ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
        var a = addr
        return withUnsafePointer(to: &a) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
    }

    /// A listening Unix socket at `path`, created 0600 (root only): replaces a stale socket file, binds, listens.
    /// `what` names the socket in errors ("control socket", "presentation socket").
    public static func listen(path: String, type: Int32, what: String) throws(SocketError) -> Int32 {
        unlink(path)
        let fd = socket(AF_UNIX, type | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SocketError.fromErrno(errno, what) }
        let addr: sockaddr_un
        do { addr = try make(path) } catch {
            close(fd)
            throw error
        }
        let old = umask(0o177)
        let rc = with(addr) { bind(fd, $0, $1) }
        umask(old)
        guard rc == 0, Glibc.listen(fd, 16) == 0 else {
            let err = errno
            close(fd)
            throw SocketError(
                .system,
                errno: err,
                "\(what) \(path): \(String(cString: strerror(err))); is another wardend running, and is the directory writable?"
            )
        }
        return fd
    }
}
