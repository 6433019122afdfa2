#if canImport(Glibc)
import Glibc
#endif

/// Runs blocking work (a TCP connect that may wait for a SYN timeout, a D-Bus loop) on its own thread so it never
/// occupies one of the cooperative pool's threads: on a two-core board there are only two. Socket waits do not use
/// this: they go through `IOReactor` (one thread for every descriptor).
public enum DetachedThread {
    private final class Job: Sendable {
        let work: @Sendable () -> Void
        init(_ work: @escaping @Sendable () -> Void) { self.work = work }
    }

    /// Runs `body` on a new thread and returns its result.
    public static func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { (continuation: CheckedContinuation<T, Never>) in
            start { continuation.resume(returning: body()) }
        }
    }

    /// Starts `work` on a new detached thread.
    public static func start(_ work: @escaping @Sendable () -> Void) {
        let job = Unmanaged.passRetained(Job(work))
        var thread = pthread_t()
        let rc = pthread_create(
            &thread,
            nil,
            { raw in
                guard let raw else { return nil }
                Unmanaged<Job>.fromOpaque(raw).takeRetainedValue().work()
                return nil
            },
            job.toOpaque()
        )
        if rc == 0 {
            pthread_detach(thread)
        } else {
            // Out of threads: doing the work inline is slower for the caller but still correct.
            job.takeRetainedValue().work()
        }
    }
}
