import CBluetooth
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// An owned non-blocking Bluetooth socket plus an eventfd that wakes blocked waits when it is closed from elsewhere.
///
/// `close()` only marks, wakes and shuts down; the descriptor itself is closed in `deinit`, when no thread can still
/// be polling it (every wait holds a reference), so a number reused by another `open` is never read by mistake.
final class BluetoothSocket: Sendable {
    let fd: Int32
    private let wakeFD: Int32
    private let isClosed = Atomic<Bool>(false)

    /// Takes ownership of `fd` (closed here even if this initialiser fails).
    init(fd: Int32, _ what: String) throws(BluetoothError) {
        let wake = warden_bt_wake_fd()
        guard wake >= 0 else {
            let err = errno
            _ = Glibc.close(fd)
            throw BluetoothError.fromErrno(err, what)
        }
        self.fd = fd
        self.wakeFD = wake
    }

    deinit {
        _ = Glibc.close(fd)
        _ = Glibc.close(wakeFD)
    }

    var closed: Bool { isClosed.load(ordering: .acquiring) }

    /// Wakes every pending wait and shuts the socket down (for a channel, the peer sees the disconnect now).
    func close() {
        guard !isClosed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        var one: UInt64 = 1
        _ = write(wakeFD, &one, MemoryLayout<UInt64>.size)
        _ = shutdown(fd, Int32(SHUT_RDWR))
    }

    /// Repeats the non-blocking `operation` until it returns a result (nil means "would block"), polling for `events`
    /// on a detached thread in between. Cancelling the task closes the socket: a half-read session is not resumable.
    func perform<T: Sendable>(
        _ events: Int16,
        _ what: String,
        _ operation: @escaping @Sendable (Int32) -> Result<T, BluetoothError>?
    ) async throws(BluetoothError) -> T {
        let result: Result<T, BluetoothError> = await withTaskCancellationHandler {
            await DetachedThread.run { [self] in
                while true {
                    if closed { return .failure(BluetoothError(code: .closed, message: "\(what): closed locally")) }
                    if let result = operation(fd) { return result }
                    var fds = [
                        pollfd(fd: fd, events: events, revents: 0),
                        pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0),
                    ]
                    if poll(&fds, 2, -1) < 0 {
                        let err = errno
                        if err != EINTR { return .failure(BluetoothError.fromErrno(err, what)) }
                    }
                }
            }
        } onCancel: {
            close()
        }
        return try result.get()
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
