#if canImport(Glibc)
import Glibc
#endif

/// A libgpiod call failed. `message` names the chip or line and says what to check; `errno` is kept for logs.
public struct GPIOError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: Sendable, Equatable {
        case chipNotFound, permissionDenied, lineBusy, invalidArgument, notAGPIOChip, io
    }
    public var code: Code
    public var errno: Int32
    public var message: String
    public var description: String { message }

    /// The one place a C failure becomes a Swift error.
    static func fromErrno(_ err: Int32, _ what: String) -> GPIOError {
        let reason = String(cString: strerror(err))
        switch err {
        case ENOENT:
            return GPIOError(
                code: .chipNotFound,
                errno: err,
                message: "\(what): no such GPIO chip (\(reason)); `ls /dev/gpiochip*` and `gpiodetect` list the chips, "
                    + "and the board profile's `chip` may be a name, a /dev path or a label"
            )
        case EACCES, EPERM:
            return GPIOError(
                code: .permissionDenied,
                errno: err,
                message: "\(what): permission denied (\(reason)); run as root or add the user to the gpio group"
            )
        case EBUSY:
            return GPIOError(
                code: .lineBusy,
                errno: err,
                message: "\(what): line already in use (\(reason)); `gpioinfo` shows which consumer holds it"
            )
        case ENOTTY, ENODEV:
            return GPIOError(
                code: .notAGPIOChip,
                errno: err,
                message: "\(what): not a GPIO character device (\(reason))"
            )
        case EINVAL:
            return GPIOError(code: .invalidArgument, errno: err, message: "\(what): invalid argument (\(reason))")
        default:
            return GPIOError(code: .io, errno: err, message: "\(what): \(reason)")
        }
    }
}
