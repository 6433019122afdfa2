import Synchronization
import WardenCore

/// A board with no hardware: tests and `make demo` drive its inputs and read what the relay did. It keeps every
/// relay write so a test can assert that a deny never moved the relay.
public final class SimulatedDoorIO: DoorIO {
    private struct State {
        var relayEnergized: Bool?
        var relayWrites: [Bool] = []
        var led = false
        var inputs: [DoorInput: Bool]
        var closed = false
        var failWrites = 0
    }

    private let state: Mutex<State>
    public let edges: AsyncStream<InputEdge>
    private let continuation: AsyncStream<InputEdge>.Continuation
    private let relayContinuation: AsyncStream<Bool>.Continuation
    /// Every relay write, as it happens (energized or not).
    public let relayChanges: AsyncStream<Bool>

    public init(doorClosed: Bool = true) {
        state = Mutex(State(inputs: [.doorContact: doorClosed, .rex: false, .tamper: false]))
        (edges, continuation) = AsyncStream.makeStream(of: InputEdge.self)
        (relayChanges, relayContinuation) = AsyncStream.makeStream(of: Bool.self)
    }

    public func setRelay(energized: Bool) throws {
        let failed = state.withLock { s -> Bool in
            if s.failWrites > 0 {
                s.failWrites -= 1
                return true
            }
            s.relayEnergized = energized
            s.relayWrites.append(energized)
            return false
        }
        if failed { throw SimulatedFault(message: "simulated relay write failure (EIO)") }
        relayContinuation.yield(energized)
    }

    public func setLED(on: Bool) throws { state.withLock { $0.led = on } }

    public func readInputs() throws -> [DoorInput: Bool] { state.withLock { $0.inputs } }

    /// Simulates a wire changing level (no debounce here: the controller debounces).
    public func drive(_ input: DoorInput, active: Bool) {
        state.withLock { $0.inputs[input] = active }
        continuation.yield(InputEdge(input: input, active: active))
    }

    /// The next `n` relay writes fail, as a GPIO write can (a line gone with its chip, EIO).
    public func failRelayWrites(_ n: Int) { state.withLock { $0.failWrites = n } }

    public var relayEnergized: Bool? { state.withLock { $0.relayEnergized } }
    public var relayWrites: [Bool] { state.withLock { $0.relayWrites } }
    public var ledOn: Bool { state.withLock { $0.led } }

    public func close() {
        state.withLock { $0.closed = true }
        continuation.finish()
        relayContinuation.finish()
    }
}

/// A fault the simulated board was told to produce.
public struct SimulatedFault: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
