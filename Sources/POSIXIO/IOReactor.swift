import CEpoll
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One thread and one epoll set for every socket wait in the process: a task that waits for a descriptor to become
/// readable or writable suspends (no OS thread per `receive()`, none of the cooperative pool's two threads blocked)
/// and is resumed by the reactor thread. `wake(fd)` resumes every waiter of a descriptor (its owner closed it), and
/// cancelling the waiting task resumes it too.
public final class IOReactor: Sendable {
    /// What a waiter wants.
    public struct Events: OptionSet, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public static let readable = Events(rawValue: warden_epollin())
        public static let writable = Events(rawValue: warden_epollout())
    }

    /// How a wait ended.
    public enum Wakeup: Sendable, Equatable {
        /// Ready (or in error or hung up: the next operation says which).
        case ready
        /// `wake(fd)` was called or the task was cancelled.
        case woken
        /// The descriptor cannot be waited on (epoll_ctl's errno).
        case failed(Int32)
    }

    public static let shared = IOReactor()

    private struct Waiter {
        var id: UInt64
        var events: UInt32
        var continuation: CheckedContinuation<Wakeup, Never>
    }

    private struct State {
        var nextID: UInt64 = 0
        var waiters: [Int32: [Waiter]] = [:]
        /// Allocated but not yet registered (cancellation may arrive in between).
        var pending: Set<UInt64> = []
        var cancelledEarly: Set<UInt64> = []
    }

    private let epfd: Int32
    private let state = Mutex(State())

    init() {
        epfd = warden_epoll_create()
        precondition(epfd >= 0, "epoll_create1 failed: \(String(cString: strerror(errno)))")
        DetachedThread.start { [self] in self.loop() }
    }

    /// Suspends until `fd` is ready for `events`, `wake(fd)` is called, or the task is cancelled.
    public func wait(_ fd: Int32, for events: Events) async -> Wakeup {
        let id = state.withLock { s -> UInt64 in
            s.nextID += 1
            s.pending.insert(s.nextID)
            return s.nextID
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Wakeup, Never>) in
                register(fd, events: events.rawValue, id: id, c)
            }
        } onCancel: {
            cancel(id)
        }
    }

    /// Resumes every waiter of `fd` with `.woken` (its owner is closing it).
    public func wake(_ fd: Int32) {
        let woken = state.withLock { s -> [Waiter] in
            guard let list = s.waiters.removeValue(forKey: fd) else { return [] }
            _ = warden_epoll_ctl(epfd, -1, fd, 0)
            return list
        }
        for w in woken { w.continuation.resume(returning: .woken) }
    }

    private func register(_ fd: Int32, events: UInt32, id: UInt64, _ c: CheckedContinuation<Wakeup, Never>) {
        let result: Wakeup? = state.withLock { s in
            s.pending.remove(id)
            if s.cancelledEarly.remove(id) != nil { return .woken }
            var list = s.waiters[fd] ?? []
            let add = list.isEmpty
            list.append(Waiter(id: id, events: events, continuation: c))
            if let err = arm(fd, list, add: add) { return .failed(err) }
            s.waiters[fd] = list
            return nil
        }
        if let result { c.resume(returning: result) }
    }

    private func cancel(_ id: UInt64) {
        let found: Waiter? = state.withLock { s in
            if s.pending.contains(id) {
                s.cancelledEarly.insert(id)
                return nil
            }
            for (fd, list) in s.waiters {
                guard let i = list.firstIndex(where: { $0.id == id }) else { continue }
                var rest = list
                let w = rest.remove(at: i)
                settle(fd, rest, in: &s)
                return w
            }
            return nil
        }
        found?.continuation.resume(returning: .woken)
    }

    /// Stores the remaining waiters of `fd` and re-arms it, or forgets it when none remain. Called with the lock held.
    private func settle(_ fd: Int32, _ rest: [Waiter], in s: inout State) {
        if rest.isEmpty {
            s.waiters[fd] = nil
            _ = warden_epoll_ctl(epfd, -1, fd, 0)
        } else {
            s.waiters[fd] = rest
            _ = arm(fd, rest, add: false)
        }
    }

    /// epoll_ctl for the union of the waiters' events, one-shot; returns errno on failure.
    private func arm(_ fd: Int32, _ list: [Waiter], add: Bool) -> Int32? {
        let events = list.reduce(warden_epolloneshot()) { $0 | $1.events }
        if warden_epoll_ctl(epfd, add ? 1 : 0, fd, events) == 0 { return nil }
        let err = errno
        // A registration left from an earlier wait on this number: modify it instead (and the reverse).
        if err == EEXIST || err == ENOENT, warden_epoll_ctl(epfd, add ? 0 : 1, fd, events) == 0 { return nil }
        return errno
    }

    private func loop() {
        let capacity: Int32 = 64
        var fds = [Int32](repeating: 0, count: Int(capacity))
        var events = [UInt32](repeating: 0, count: Int(capacity))
        let errorEvents = warden_epollerr() | warden_epollhup()
        while true {
            let n = warden_epoll_wait(epfd, &fds, &events, capacity)
            if n < 0 {
                if errno != EINTR { usleep(10_000) }
                continue
            }
            for i in 0..<Int(n) {
                let fd = fds[i]
                let got = events[i]
                let ready = state.withLock { s -> [Waiter] in
                    guard let list = s.waiters[fd] else { return [] }
                    let hit = list.filter { $0.events & got != 0 || got & errorEvents != 0 }
                    settle(fd, list.filter { w in !hit.contains { $0.id == w.id } }, in: &s)
                    return hit
                }
                for w in ready { w.continuation.resume(returning: .ready) }
            }
        }
    }
}
