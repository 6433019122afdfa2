import Synchronization

/// A continuation resumed by whichever of two tasks comes first.
final class Once<T: Sendable>: Sendable {
    private let continuation: Mutex<CheckedContinuation<T, any Error>?>
    init(_ continuation: CheckedContinuation<T, any Error>) { self.continuation = Mutex(continuation) }

    /// Resumes with `result` if nothing did yet; returns whether this call did.
    @discardableResult
    func resume(_ result: Result<T, any Error>) -> Bool {
        guard
            let c = continuation.withLock({ c in
                defer { c = nil }
                return c
            })
        else { return false }
        c.resume(with: result)
        return true
    }
}
