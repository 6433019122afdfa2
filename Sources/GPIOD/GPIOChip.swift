import CGPIOD
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Input bias as the board profile names it.
public enum GPIOBias: String, Sendable, CaseIterable {
    case asIs = "as-is"
    case disabled = "disabled"
    case pullUp = "pull-up"
    case pullDown = "pull-down"

    var c: Int32 {
        switch self {
        case .asIs: return Int32(WARDEN_GPIO_BIAS_AS_IS)
        case .disabled: return Int32(WARDEN_GPIO_BIAS_DISABLED)
        case .pullUp: return Int32(WARDEN_GPIO_BIAS_PULL_UP)
        case .pullDown: return Int32(WARDEN_GPIO_BIAS_PULL_DOWN)
        }
    }
}

/// An open GPIO chip (libgpiod v1 or v2, whichever the build found). Closing is automatic; requested lines keep the
/// chip alive underneath until they are released.
public final class GPIOChip: Sendable {
    private let handle: Mutex<OpaquePointer?>
    public let name: String
    public let label: String
    public let lineCount: Int

    /// libgpiod API in use (1 or 2) and its version string, for `wardend --version` and diagnostics.
    public static var apiVersion: Int { Int(warden_gpio_api_version()) }
    public static var libraryVersion: String { String(cString: warden_gpio_library_version()) }

    /// Opens a chip by /dev path, name (`gpiochip0`) or label (`pinctrl-bcm2711`).
    public init(opening chip: String) throws(GPIOError) {
        guard let h = warden_gpio_chip_open(chip) else { throw GPIOError.fromErrno(errno, "GPIO chip '\(chip)'") }
        self.name = String(cString: warden_gpio_chip_name(h))
        self.label = String(cString: warden_gpio_chip_label(h))
        self.lineCount = Int(warden_gpio_chip_num_lines(h))
        self.handle = Mutex(h)
    }

    deinit {
        handle.withLock { h in
            if let c = h { warden_gpio_chip_close(c) }
            h = nil
        }
    }

    private func checkOffset(_ offset: Int) throws(GPIOError) {
        guard (0..<lineCount).contains(offset) else {
            throw GPIOError(
                code: .invalidArgument,
                errno: EINVAL,
                message: "line \(offset) is out of range for chip '\(name)' (\(label)), which has \(lineCount) lines"
            )
        }
    }

    public func requestOutput(
        offset: Int,
        consumer: String,
        activeLow: Bool,
        initial: Bool
    ) throws(GPIOError) -> GPIOOutputLine {
        try checkOffset(offset)
        let line: OpaquePointer? = handle.withLock { h in
            warden_gpio_request_output(h, UInt32(offset), consumer, activeLow ? 1 : 0, initial ? 1 : 0)
        }
        guard let line else { throw GPIOError.fromErrno(errno, "output line \(offset) on '\(name)'") }
        return GPIOOutputLine(handle: line, offset: offset, chip: self)
    }

    public func requestInput(
        offset: Int,
        consumer: String,
        activeLow: Bool,
        bias: GPIOBias
    ) throws(GPIOError) -> GPIOInputLine {
        try checkOffset(offset)
        let line: OpaquePointer? = handle.withLock { h in
            warden_gpio_request_input(h, UInt32(offset), consumer, activeLow ? 1 : 0, bias.c)
        }
        guard let line else { throw GPIOError.fromErrno(errno, "input line \(offset) on '\(name)'") }
        return GPIOInputLine(handle: line, offset: offset, chip: self)
    }
}
