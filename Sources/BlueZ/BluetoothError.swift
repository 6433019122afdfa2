#if canImport(Glibc)
import Glibc
#endif

/// A Bluetooth socket or HCI call failed. `message` says what was being done and what an installer should check;
/// `errno` is kept for logs.
public struct BluetoothError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: Sendable, Equatable {
        /// The kernel has no AF_BLUETOOTH (module not loaded, container, CI machine).
        case notSupported
        /// No HCI controller (absent, unpowered, rfkill-blocked, or the named one does not exist).
        case noController
        case permissionDenied
        /// Another process already listens on this PSM.
        case addressInUse
        case invalidArgument
        /// An SDU longer than the peer's MTU.
        case messageTooLarge
        /// The peer went away (disconnect, link supervision timeout).
        case disconnected
        /// The listener or channel was closed locally (or its waiting task cancelled).
        case closed
        /// bluetoothd's D-Bus API is unreachable or refused a request (advertising under bluetoothd).
        case dbus
        case io
    }

    public var code: Code
    public var errno: Int32
    public var message: String
    public var description: String { message }

    public init(code: Code, errno: Int32 = 0, message: String) {
        self.code = code
        self.errno = errno
        self.message = message
    }

    /// The one place an errno from a Bluetooth socket or libbluetooth call becomes a Swift error. Public so callers
    /// that make their own HCI or socket calls (advertising, diagnostics) report them the same way.
    public static func fromErrno(_ err: Int32, _ what: String) -> BluetoothError {
        let reason = String(cString: strerror(err))
        switch err {
        case EAFNOSUPPORT, EPROTONOSUPPORT, ESOCKTNOSUPPORT:
            return BluetoothError(
                code: .notSupported,
                errno: err,
                message:
                    "Bluetooth is not available: the kernel has no AF_BLUETOOTH support (\(reason), from \(what)); "
                    + "on a board check `bluetoothctl show` and that the bluetooth service runs"
            )
        case ENODEV:
            return BluetoothError(
                code: .noController,
                errno: err,
                message: "no Bluetooth controller found (\(what)): is the adapter powered and not blocked by rfkill? "
                    + "`rfkill list` and `bluetoothctl show` tell"
            )
        case EACCES, EPERM:
            return BluetoothError(
                code: .permissionDenied,
                errno: err,
                message: "\(what): permission denied (\(reason)); run wardend as root or with CAP_NET_ADMIN and "
                    + "CAP_NET_RAW (and CAP_NET_BIND_SERVICE for an LE PSM below 0x80)"
            )
        case EADDRINUSE:
            return BluetoothError(
                code: .addressInUse,
                errno: err,
                message: "\(what): the PSM is already in use (\(reason)); another wardend may be running"
            )
        case EINVAL:
            return BluetoothError(code: .invalidArgument, errno: err, message: "\(what): invalid argument (\(reason))")
        case EMSGSIZE:
            return BluetoothError(
                code: .messageTooLarge,
                errno: err,
                message: "\(what): message larger than the channel MTU (\(reason))"
            )
        case ECONNRESET, ENOTCONN, EPIPE, ETIMEDOUT, EHOSTDOWN, ECONNABORTED:
            return BluetoothError(
                code: .disconnected,
                errno: err,
                message: "\(what): the peer disconnected (\(reason))"
            )
        case EBADF:
            return BluetoothError(code: .closed, errno: err, message: "\(what): the socket is closed")
        default:
            return BluetoothError(code: .io, errno: err, message: "\(what): \(reason)")
        }
    }
}
