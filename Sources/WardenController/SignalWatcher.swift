import POSIXIO
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The write end of the self-pipe the signal handler writes to (set once, before the handler is installed).
nonisolated(unsafe) private var signalPipeWrite: Int32 = -1

/// SIGTERM and SIGINT, watched from wardend's first line: a signal that arrives during start-up is remembered (the
/// default action would kill the process with the relay line in whatever state), and one that arrives later
/// triggers the handler (the service group's graceful shutdown).
///
/// A real handler (sigaction, installed before this returns) writes the signal number to a pipe that a thread
/// reads: a dispatch signal source registers asynchronously, and a signal arriving in between is lost.
public final class SignalWatcher: Sendable {
    /// The process's watcher; `install()` creates it as early as possible (wardend's first line).
    public static let shared = SignalWatcher()

    /// Starts watching now (SIGTERM and SIGINT are from then on recorded, never fatal).
    public static func install() { _ = shared }

    private struct State {
        var fired: Int32?
        var handler: (@Sendable (Int32) -> Void)?
    }

    private let state = Mutex(State())

    private init() {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else {
            fatalError("wardend: cannot create the signal pipe: \(String(cString: strerror(errno)))")
        }
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        signalPipeWrite = fds[1]
        let read = fds[0]
        for s in [SIGTERM, SIGINT] {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { signal in
                var byte = UInt8(truncatingIfNeeded: signal)
                _ = write(signalPipeWrite, &byte, 1)  // async-signal-safe
            }
            action.sa_flags = SA_RESTART
            sigemptyset(&action.sa_mask)
            sigaction(s, &action, nil)
        }
        DetachedThread.start { [self] in
            var byte: UInt8 = 0
            while true {
                let n = Glibc.read(read, &byte, 1)
                if n == 1 { fire(Int32(byte)) } else if n < 0 && errno == EINTR { continue } else { return }
            }
        }
    }

    /// The first signal received, if any.
    var fired: Int32? { state.withLock { $0.fired } }

    /// Calls `handler` on the next signal, or at once if one already arrived.
    func onSignal(_ handler: @escaping @Sendable (Int32) -> Void) {
        let early = state.withLock { s -> Int32? in
            s.handler = handler
            return s.fired
        }
        if let early { handler(early) }
    }

    private func fire(_ signal: Int32) {
        let handler = state.withLock { s -> (@Sendable (Int32) -> Void)? in
            if s.fired == nil { s.fired = signal }
            return s.handler
        }
        handler?(signal)
    }
}
