import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// An owned non-blocking socket descriptor whose waits go through `IOReactor`.
///
/// `close()` marks, shuts down and wakes every pending wait; the descriptor itself is closed in `deinit`, when no
/// wait can still hold it (every wait holds a reference), so a number reused by another `open` is never touched.
public final class SocketHandle: Sendable {
    public let fd: Int32
    private let isClosed = Atomic<Bool>(false)

    /// Takes ownership of `fd` and makes it non-blocking.
    public init(fd: Int32) {
        self.fd = fd
        let flags = fcntl(fd, F_GETFL)
        if flags >= 0 { _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK) }
    }

    deinit { _ = Glibc.close(fd) }

    public var closed: Bool { isClosed.load(ordering: .acquiring) }

    /// Shuts the socket down (the peer sees the disconnect now) and wakes every pending wait.
    public func close() {
        guard !isClosed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        _ = shutdown(fd, Int32(SHUT_RDWR))
        IOReactor.shared.wake(fd)
    }

    /// Repeats the non-blocking `operation` until it returns a result (nil means "would block"), waiting for
    /// `events` in between. Cancelling the task closes the socket: a half-read exchange is not resumable.
    /// `closedError` is thrown once the socket is closed; `waitError` turns an errno from the reactor into `E`.
    public func perform<T, E: Error>(
        _ events: IOReactor.Events,
        closedError: () -> E,
        waitError: (Int32) -> E,
        _ operation: (Int32) -> Result<T, E>?
    ) async throws(E) -> T {
        while true {
            if closed { throw closedError() }
            if let result = operation(fd) { return try result.get() }
            switch await IOReactor.shared.wait(fd, for: events) {
            case .ready: continue
            case .woken: if Task.isCancelled { close() }
            case .failed(let err): throw waitError(err)
            }
        }
    }

    /// `perform` with `SocketError`s.
    public func perform<T>(
        _ events: IOReactor.Events,
        _ what: String,
        _ operation: (Int32) -> Result<T, SocketError>?
    ) async throws(SocketError) -> T {
        try await perform(
            events,
            closedError: { SocketError(.closed, "\(what): closed locally") },
            waitError: { SocketError.fromErrno($0, what) },
            operation
        )
    }
}
