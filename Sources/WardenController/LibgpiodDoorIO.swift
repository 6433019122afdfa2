import GPIOD
import WardenCore

/// The door on a real GPIO chip through libgpiod (v1 or v2, chosen at build time). The relay line is requested with
/// its *locked* level as the initial value, so the moment the daemon takes the line the door is locked.
public final class LibgpiodDoorIO: DoorIO {
    private let chip: GPIOChip
    private let relay: GPIOOutputLine
    private let led: GPIOOutputLine?
    private let inputs: [(DoorInput, GPIOInputLine)]
    private let loop: GPIOEventLoop
    public var inputsAlive: Bool { loop.isAlive }
    public let edges: AsyncStream<InputEdge>

    public init(profile: BoardProfile, consumer: String = "wardend") throws(GPIOError) {
        let chip = try GPIOChip(opening: profile.chip)
        self.chip = chip
        relay = try chip.requestOutput(
            offset: profile.relay.line,
            consumer: "\(consumer)-relay",
            activeLow: profile.relay.activeLow,
            initial: profile.relayEnergized(unlocked: false)
        )
        led = try profile.led.map { l throws(GPIOError) in
            try chip.requestOutput(offset: l.line, consumer: "\(consumer)-led", activeLow: l.activeLow, initial: false)
        }
        var lines: [(DoorInput, GPIOInputLine)] = []
        for input in DoorInput.allCases {
            guard let i = profile.inputs[input] else { continue }
            lines.append(
                (
                    input,
                    try chip.requestInput(
                        offset: i.line,
                        consumer: "\(consumer)-\(input.rawValue)",
                        activeLow: i.activeLow,
                        bias: i.bias
                    )
                )
            )
        }
        inputs = lines
        loop = try GPIOEventLoop(lines: lines.map(\.1))
        let names = lines.map(\.0)
        let source = loop.events
        edges = AsyncStream { continuation in
            let task = Task {
                for await e in source { continuation.yield(InputEdge(input: names[e.line], active: e.edge.rising)) }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    public func setRelay(energized: Bool) throws { try relay.set(energized) }
    /// The level the kernel holds on the relay line (what `wardenctl doctor` reads back after driving it).
    public func relayEnergized() throws -> Bool { try relay.get() }
    public func setLED(on: Bool) throws { try led?.set(on) }

    public func readInputs() throws -> [DoorInput: Bool] {
        var out: [DoorInput: Bool] = [:]
        for (input, line) in inputs { out[input] = try line.get() }
        return out
    }

    public func close() {
        loop.stop()
        for (_, l) in inputs { l.release() }
        led?.release()
        relay.release()
    }
}
