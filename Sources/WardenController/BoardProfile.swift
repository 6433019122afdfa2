import Foundation
import GPIOD
import WardenCore

/// A board's wiring (boards/*.yaml): which chip, which line does what, active levels, bias, debounce, relay kind and
/// timings. Parsed strictly: an unknown key, a line used twice, a missing relay or an offset out of range stops
/// start-up with the file, key and value named (docs/hardware.md is the reference).
public struct BoardProfile: Sendable, Equatable {
    /// Fail-secure strikes unlock when energized; fail-safe maglocks hold when energized.
    public enum RelayKind: String, Sendable, CaseIterable {
        case strike, maglock
    }

    public struct Output: Sendable, Equatable {
        public var line: Int
        public var activeLow: Bool
    }

    public struct Input: Sendable, Equatable {
        public var line: Int
        public var activeLow: Bool
        public var bias: GPIOBias
        public var debounce: Duration
    }

    public var name: String
    public var chip: String
    public var relay: Output
    public var relayKind: RelayKind
    public var pulse: Duration
    public var extendedPulse: Duration
    public var inputs: [DoorInput: Input]
    public var led: Output?
    public var heldOpenAfter: Duration
    public var file: String

    /// The simulated backend is selected by this chip name.
    public var isSimulated: Bool { chip == "sim" }

    /// Relay level (energized = true) that puts the door in the given state.
    public func relayEnergized(unlocked: Bool) -> Bool {
        relayKind == .strike ? unlocked : !unlocked
    }

    public var timing: DoorTiming {
        DoorTiming(
            pulse: pulse,
            extendedPulse: extendedPulse,
            heldOpenAfter: heldOpenAfter,
            debounce: inputs.mapValues(\.debounce)
        )
    }

    static let maxLine = 511

    public static func load(path: String) throws(ConfigError) -> BoardProfile {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw ConfigError(
                file: path,
                key: "",
                message: "cannot read the board profile: \(error.localizedDescription)"
            )
        }
        return try parse(text, file: path)
    }

    public static func parse(_ text: String, file: String) throws(ConfigError) -> BoardProfile {
        let top = try YAMLMapping.parse(
            file: file,
            text: text,
            allowed: ["name", "chip", "relay", "inputs", "led", "held_open_s"]
        )
        let r = try top.mapping("relay", allowed: ["line", "active_low", "kind", "pulse_ms", "extended_pulse_ms"])
        let pulseMs = try r.int("pulse_ms", in: 100...600_000, default: 5000)
        let extMs = try r.int("extended_pulse_ms", in: 100...600_000, default: pulseMs)
        guard extMs >= pulseMs else {
            throw r.fail("extended_pulse_ms", "\(extMs) is shorter than pulse_ms (\(pulseMs))")
        }
        let inputsMap = try top.mapping("inputs", allowed: Set(DoorInput.allCases.map(\.rawValue)))
        var inputs: [DoorInput: Input] = [:]
        for input in DoorInput.allCases where inputsMap.has(input.rawValue) {
            let m = try inputsMap.mapping(input.rawValue, allowed: ["line", "active_low", "bias", "debounce_ms"])
            inputs[input] = Input(
                line: try m.int("line", in: 0...maxLine),
                activeLow: try m.bool("active_low", default: false),
                bias: try m.oneOf("bias", GPIOBias.self, all: GPIOBias.allCases, default: .asIs),
                debounce: .milliseconds(try m.int("debounce_ms", in: 0...5000, default: 50))
            )
        }
        guard inputs[.doorContact] != nil else {
            throw inputsMap.fail(
                "door_contact",
                "missing (required): the door position switch drives relock and alarms"
            )
        }
        var led: Output?
        if let l = try top.optionalMapping("led", allowed: ["line", "active_low"]) {
            led = Output(line: try l.int("line", in: 0...maxLine), activeLow: try l.bool("active_low", default: false))
        }
        let profile = BoardProfile(
            name: try top.string("name"),
            chip: try top.string("chip"),
            relay: Output(
                line: try r.int("line", in: 0...maxLine),
                activeLow: try r.bool("active_low", default: false)
            ),
            relayKind: try r.oneOf("kind", RelayKind.self, all: RelayKind.allCases),
            pulse: .milliseconds(pulseMs),
            extendedPulse: .milliseconds(extMs),
            inputs: inputs,
            led: led,
            heldOpenAfter: .seconds(try top.int("held_open_s", in: 1...86_400, default: 30)),
            file: file
        )
        // Each line once.
        var used: [Int: String] = [profile.relay.line: "relay.line"]
        for input in DoorInput.allCases {
            guard let i = inputs[input] else { continue }
            let key = "inputs.\(input.rawValue).line"
            if let other = used[i.line] {
                throw ConfigError(file: file, key: key, message: "line \(i.line) is already used by \(other)")
            }
            used[i.line] = key
        }
        if let l = led, let other = used[l.line] {
            throw ConfigError(file: file, key: "led.line", message: "line \(l.line) is already used by \(other)")
        }
        return profile
    }
}
