import GPIOD
import Testing

/// The libgpiod backend is compiled and linked on every build; this machine's kernel has no GPIO, so what can be
/// checked here is the API in use and that a missing chip fails with a message an installer can act on.
@Suite struct GPIOBackendTests {
    @Test func linkedLibraryMatchesTheHeaderAPI() {
        #expect([1, 2].contains(GPIOChip.apiVersion))
        #expect(GPIOChip.libraryVersion.hasPrefix("\(GPIOChip.apiVersion)."))
    }

    @Test func missingChipFailsClearly() {
        do {
            _ = try GPIOChip(opening: "gpiochip-warden-missing")
            Issue.record("opened a chip that does not exist")
        } catch {
            #expect(error.code == .chipNotFound)
            #expect(error.message.contains("'gpiochip-warden-missing'"))
            #expect(error.message.contains("no such GPIO chip"))
        }
    }

    @Test func aFileThatIsNotAChipIsRefused() {
        do {
            _ = try GPIOChip(opening: "/dev/null")
            Issue.record("/dev/null accepted as a GPIO chip")
        } catch {
            #expect(error.code == .notAGPIOChip)
        }
    }
}
