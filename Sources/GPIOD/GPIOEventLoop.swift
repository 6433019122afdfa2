import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Waits on every input line's fd with one `poll` in one thread (not a thread per line) and delivers edges as an
/// async stream. `stop()` wakes the poll through a pipe.
public final class GPIOEventLoop: Sendable {
    public struct Event: Sendable, Equatable {
        /// Index into the `lines` passed to `init`.
        public var line: Int
        public var edge: GPIOEdge
    }

    public let events: AsyncStream<Event>
    private let continuation: AsyncStream<Event>.Continuation
    private let lines: [GPIOInputLine]
    private let wake: (read: Int32, write: Int32)
    private let stopped = Atomic<Bool>(false)

    public init(lines: [GPIOInputLine]) throws(GPIOError) {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw GPIOError.fromErrno(errno, "event loop pipe") }
        self.wake = (fds[0], fds[1])
        self.lines = lines
        (events, continuation) = AsyncStream.makeStream(of: Event.self, bufferingPolicy: .bufferingNewest(1024))
        let thread = Thread { [self] in self.run() }
        thread.start()
    }

    private func run() {
        var pfds = lines.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
        pfds.append(pollfd(fd: wake.read, events: Int16(POLLIN), revents: 0))
        while !stopped.load(ordering: .acquiring) {
            let rc = poll(&pfds, nfds_t(pfds.count), -1)
            if rc < 0 {
                if errno == EINTR { continue }
                break
            }
            if pfds[pfds.count - 1].revents != 0 { break }
            for i in 0..<lines.count where pfds[i].revents != 0 {
                pfds[i].revents = 0
                guard let edges = try? lines[i].readPendingEdges() else { continue }
                for e in edges { continuation.yield(Event(line: i, edge: e)) }
            }
        }
        continuation.finish()
        close(wake.read)
    }

    public func stop() {
        guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        var b: UInt8 = 1
        _ = write(wake.write, &b, 1)
        close(wake.write)
    }
}

/// A minimal detached OS thread (Foundation-free, so this module stays small).
final class Thread: Sendable {
    private let body: @Sendable () -> Void
    init(_ body: @escaping @Sendable () -> Void) { self.body = body }

    func start() {
        let box = Unmanaged.passRetained(self)
        var tid = pthread_t()
        pthread_create(&tid, nil, { ctx in
            let me = Unmanaged<Thread>.fromOpaque(ctx!).takeRetainedValue()
            me.body()
            return nil
        }, box.toOpaque())
        pthread_detach(tid)
    }
}
