#if canImport(Glibc)
import Glibc
#endif

/// A socket operation failed. `errno` is kept so callers can tell a transient failure (out of descriptors or
/// memory, which passes) from a permanent one; the message says what was being done and what to check.
public struct SocketError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: Sendable, Equatable {
        /// The peer went away (EOF, reset, broken pipe).
        case disconnected
        /// Closed locally while waiting.
        case closed
        /// Bad argument (path too long, not an address).
        case invalidArgument
        /// Any other errno.
        case system
    }

    public var code: Code
    public var errno: Int32
    public var message: String

    public init(_ code: Code, errno: Int32 = 0, _ message: String) {
        self.code = code
        self.errno = errno
        self.message = message
    }

    /// From an errno value, naming what was being done.
    public static func fromErrno(_ err: Int32, _ what: String) -> SocketError {
        let text = String(cString: strerror(err))
        switch err {
        case ECONNRESET, EPIPE, ENOTCONN: return SocketError(.disconnected, errno: err, "\(what): \(text)")
        default: return SocketError(.system, errno: err, "\(what): \(text)")
        }
    }

    /// Out of descriptors, buffers or memory, or interrupted: worth retrying after a pause.
    public var isTransient: Bool {
        [EMFILE, ENFILE, ENOBUFS, ENOMEM, EINTR, EAGAIN, ECONNABORTED, EPROTO, EPERM].contains(errno)
    }

    public var description: String { message }
}
