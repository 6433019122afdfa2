import CGPIOD
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A requested output line. Values are logical (active-low already applied). Releasing happens in `deinit` or
/// `release()`; a released line's level is up to the chip (docs/hardware.md, "Safe state").
public final class GPIOOutputLine: Sendable {
    private let handle: Mutex<OpaquePointer?>
    public let offset: Int
    private let chip: GPIOChip

    init(handle: sending OpaquePointer, offset: Int, chip: GPIOChip) {
        self.handle = Mutex(handle)
        self.offset = offset
        self.chip = chip
    }

    public func set(_ active: Bool) throws(GPIOError) {
        let rc: Int32 = handle.withLock { h in
            guard let h else { return -2 }
            return warden_gpio_set_value(h, active ? 1 : 0)
        }
        if rc == -2 { throw GPIOError(code: .io, errno: EBADF, message: "output line \(offset) was released") }
        if rc < 0 { throw GPIOError.fromErrno(errno, "setting output line \(offset) on '\(chip.name)'") }
    }

    public func get() throws(GPIOError) -> Bool {
        let rc: Int32 = handle.withLock { h in h.map { warden_gpio_get_value($0) } ?? -1 }
        if rc < 0 { throw GPIOError.fromErrno(errno, "reading output line \(offset) on '\(chip.name)'") }
        return rc == 1
    }

    public func release() {
        handle.withLock { h in
            if let l = h { warden_gpio_release(l) }
            h = nil
        }
    }

    deinit { release() }
}
