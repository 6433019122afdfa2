import CGPIOD
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One edge read from the kernel: `rising` means the logical value became active.
public struct GPIOEdge: Sendable, Equatable {
    public var rising: Bool
    /// CLOCK_MONOTONIC nanoseconds from the kernel.
    public var timestampNanos: UInt64
}

/// A requested input line with both-edge events. Its fd is polled by `GPIOEventLoop`.
public final class GPIOInputLine: Sendable {
    private let handle: Mutex<OpaquePointer?>
    public let offset: Int
    public let fd: Int32
    private let chip: GPIOChip

    init(handle: sending OpaquePointer, offset: Int, chip: GPIOChip) {
        self.fd = warden_gpio_event_fd(handle)
        self.handle = Mutex(handle)
        self.offset = offset
        self.chip = chip
    }

    public func get() throws(GPIOError) -> Bool {
        let rc: Int32 = handle.withLock { h in h.map { warden_gpio_get_value($0) } ?? -1 }
        if rc < 0 { throw GPIOError.fromErrno(errno, "reading input line \(offset) on '\(chip.name)'") }
        return rc == 1
    }

    /// Reads every pending edge without blocking (the fd is non-blocking).
    public func readPendingEdges() throws(GPIOError) -> [GPIOEdge] {
        var edges: [GPIOEdge] = []
        while true {
            var rising: Int32 = 0
            var ts: UInt64 = 0
            let (rc, err): (Int32, Int32) = handle.withLock { h in
                guard let h else { return (-1, EBADF) }
                let rc = warden_gpio_read_event(h, &rising, &ts)
                return (rc, errno)
            }
            if rc == 0 {
                edges.append(GPIOEdge(rising: rising == 1, timestampNanos: ts))
                continue
            }
            if err == EAGAIN || err == EWOULDBLOCK { return edges }
            throw GPIOError.fromErrno(err, "reading edge events of line \(offset) on '\(chip.name)'")
        }
    }

    public func release() {
        handle.withLock { h in
            if let l = h { warden_gpio_release(l) }
            h = nil
        }
    }

    deinit { release() }
}
