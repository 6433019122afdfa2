#if canImport(Glibc)
import Glibc
#endif

/// Runs a blocking libmosquitto call (the TCP connect, which may wait for a SYN timeout) on its own short-lived thread
/// so it never occupies one of the cooperative pool's threads: on a two-core board there are only two.
enum DetachedThread {
    private final class Job: Sendable {
        let work: @Sendable () -> Void
        init(_ work: @escaping @Sendable () -> Void) { self.work = work }
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
