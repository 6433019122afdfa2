#if canImport(Glibc)
import Glibc
#endif

/// A filled-in `sockaddr_un` for a filesystem path, shared by every Unix socket wardend and wardenctl open.
enum UnixSocketAddress {
    static func make(_ path: String) throws(ControlError) -> sockaddr_un {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else {
            throw ControlError("socket path is too long (\(bytes.count) bytes, the limit is 107): \(path)")
        }
        withUnsafeMutableBytes(of: &addr.sun_path) { p in
            for (i, b) in bytes.enumerated() { p[i] = b }
        }
        return addr
    }

    /// Runs `body` with the address as a `sockaddr` pointer and its length (for bind and connect).
    static func with<T>(_ addr: sockaddr_un, _ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
        var a = addr
        return withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
    }
}
