import WardenCore

/// A logical edge on one of the door's inputs (active-low already applied).
public struct InputEdge: Sendable, Equatable {
    public var input: DoorInput
    public var active: Bool
    public init(input: DoorInput, active: Bool) {
        self.input = input
        self.active = active
    }
}

/// The door hardware as the controller sees it: one relay output, an optional LED, and inputs with edge events.
/// Backends: `LibgpiodDoorIO` (a real chip through libgpiod v1 or v2) and `SimulatedDoorIO` (tests, `make demo`).
public protocol DoorIO: Sendable {
    /// Drives the relay coil. Synchronous and fast: this is the last step of an unlock.
    func setRelay(energized: Bool) throws
    func setLED(on: Bool) throws
    /// Current logical levels of the configured inputs.
    func readInputs() throws -> [DoorInput: Bool]
    /// Edges as they happen; finishes when the backend closes.
    var edges: AsyncStream<InputEdge> { get }
    /// False once the input loop has died for good (the watchdog probes it).
    var inputsAlive: Bool { get }
    func close()
}

extension DoorIO {
    public var inputsAlive: Bool { true }
}
