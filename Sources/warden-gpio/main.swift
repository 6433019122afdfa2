import GPIOD

#if canImport(Glibc)
import Glibc
#endif

// warden-gpio: a small libgpiod probe for installers and for checking that the build links the libgpiod API the
// board has (v1 on Debian 12 / Raspberry Pi OS bookworm, v2 on Debian 13). Depends on nothing but the GPIO wrapper.
func eprint(_ text: String) {
    var t = text + "\n"
    t.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}
let args = Array(CommandLine.arguments.dropFirst())
func usage() -> Never {
    eprint("usage: warden-gpio version | warden-gpio probe CHIP   (CHIP: /dev path, name or label)")
    exit(2)
}
switch args.first {
case "version":
    print("libgpiod API v\(GPIOChip.apiVersion), library \(GPIOChip.libraryVersion)")
case "probe":
    guard args.count == 2 else { usage() }
    do {
        let chip = try GPIOChip(opening: args[1])
        print("\(chip.name) [\(chip.label)] \(chip.lineCount) lines (libgpiod API v\(GPIOChip.apiVersion))")
    } catch {
        eprint("warden-gpio: \(error.message)")
        exit(1)
    }
default:
    usage()
}
