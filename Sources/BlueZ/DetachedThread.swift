#if canImport(Glibc)
import Glibc
#endif

/// Runs a blocking socket wait on its own short-lived thread so it never occupies one of the cooperative pool's
/// threads: on a two-core board there are only two, and an `accept` may wait for hours.
enum DetachedThread {
    private final class Job: Sendable {
        let work: @Sendable () -> Void
        init(_ work: @escaping @Sendable () -> Void) { self.work = work }
    }

    static func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { (continuation: CheckedContinuation<T, Never>) in
            start { continuation.resume(returning: body()) }
        }
    }

    static func start(_ work: @escaping @Sendable () -> Void) {
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
