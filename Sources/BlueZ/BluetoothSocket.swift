import CBluetooth
import POSIXIO

#if canImport(Glibc)
import Glibc
#endif

/// An owned non-blocking Bluetooth socket: POSIXIO's `SocketHandle` (waits through the one `IOReactor` thread,
/// `close()` wakes them; the descriptor is closed in `deinit`) with Bluetooth's socket options and errors.
final class BluetoothSocket: Sendable {
    private let handle: SocketHandle
    var fd: Int32 { handle.fd }

    /// Takes ownership of `fd`.
    init(fd: Int32, _ what: String) throws(BluetoothError) {
        handle = SocketHandle(fd: fd)
    }

    var closed: Bool { handle.closed }

    /// Wakes every pending wait and shuts the socket down (for a channel, the peer sees the disconnect now).
    func close() { handle.close() }

    /// Repeats the non-blocking `operation` until it returns a result (nil means "would block"), waiting for
    /// `events` in between. Cancelling the task closes the socket: a half-read session is not resumable.
    func perform<T>(
        _ events: Int16,
        _ what: String,
        _ operation: (Int32) -> Result<T, BluetoothError>?
    ) async throws(BluetoothError) -> T {
        try await handle.perform(
            events == Int16(POLLOUT) ? .writable : .readable,
            closedError: { BluetoothError(code: .closed, message: "\(what): closed locally") },
            waitError: { BluetoothError.fromErrno($0, what) },
            operation
        )
    }

    /// `setsockopt(SOL_BLUETOOTH, option, value)`.
    func setOption<V: BitwiseCopyable>(_ option: Int32, _ value: V, _ what: String) throws(BluetoothError) {
        let rc = withUnsafeBytes(of: value) { bytes in
            setsockopt(fd, warden_bt_sol_bluetooth(), option, bytes.baseAddress, socklen_t(bytes.count))
        }
        if rc < 0 { throw BluetoothError.fromErrno(errno, what) }
    }

    /// `getsockopt(SOL_BLUETOOTH, option)` for a 16-bit value such as an MTU.
    func uint16Option(_ option: Int32) -> UInt16? {
        var value: UInt16 = 0
        var length = socklen_t(MemoryLayout<UInt16>.size)
        return getsockopt(fd, warden_bt_sol_bluetooth(), option, &value, &length) == 0 ? value : nil
    }
}
