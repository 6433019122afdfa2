import Foundation
import Testing
import WardenController
import WardenCore

@Suite struct BoardProfileTests {
    @Test(arguments: ["rpi4-waveshare-relay.yaml", "rpi5-waveshare-relay.yaml", "rpi-zero2w-relay.yaml", "sim.yaml"])
    func shippedProfilesLoad(_ name: String) throws {
        let p = try BoardProfile.load(path: repoRoot.appendingPathComponent("boards/\(name)").path)
        #expect(!p.name.isEmpty)
        #expect(p.inputs[.doorContact] != nil)
    }

    @Test func pi5UsesTheRP1Label() throws {
        #expect(
            try BoardProfile.load(path: repoRoot.appendingPathComponent("boards/rpi5-waveshare-relay.yaml").path).chip
                == "pinctrl-rp1"
        )
    }

    static let good = """
        name: test
        chip: gpiochip0
        relay: {line: 26, active_low: true, kind: strike, pulse_ms: 4000}
        inputs:
          door_contact: {line: 17, active_low: true, bias: pull-up}
          rex: {line: 27, bias: pull-up, active_low: true}
        held_open_s: 20
        """

    @Test func goodProfileParsesWithDefaults() throws {
        let p = try BoardProfile.parse(Self.good, file: "t.yaml")
        #expect(p.pulse == .milliseconds(4000))
        #expect(p.extendedPulse == .milliseconds(4000))
        #expect(p.inputs[.doorContact]?.debounce == .milliseconds(50))
        #expect(p.relayEnergized(unlocked: true) == true)
        #expect(p.heldOpenAfter == .seconds(20))
    }

    @Test func maglockIsEnergizedWhenLocked() throws {
        let p = try BoardProfile.parse(
            Self.good.replacingOccurrences(of: "kind: strike", with: "kind: maglock"),
            file: "t.yaml"
        )
        #expect(p.relayEnergized(unlocked: false) == true)
        #expect(p.relayEnergized(unlocked: true) == false)
    }

    @Test(arguments: [
        (
            "relay: {line: 26, active_low: true, kind: strike, pulse_ms: 4000}",
            "relay: {line: 26, active_lo: true, kind: strike}",
            "t.yaml:3: relay.active_lo: unknown key; allowed here: active_low, extended_pulse_ms, kind, line, pulse_ms"
        ),
        (
            "rex: {line: 27,", "rex: {line: 17,",
            "t.yaml: inputs.rex.line: line 17 is already used by inputs.door_contact.line"
        ),
        (
            "relay: {line: 26, active_low: true, kind: strike, pulse_ms: 4000}\n", "",
            "t.yaml:1: relay: missing (required)"
        ),
        ("line: 26", "line: 999", "t.yaml:3: relay.line: 999 is out of range (0...511)"),
        ("kind: strike", "kind: magnet", "t.yaml:3: relay.kind: 'magnet' is not one of: strike, maglock"),
        (
            "bias: pull-up}", "bias: pullup}",
            "t.yaml:5: inputs.door_contact.bias: 'pullup' is not one of: as-is, disabled, pull-up, pull-down"
        ),
        ("held_open_s: 20", "held_open_s: soon", "t.yaml:7: held_open_s: 'soon' is not a whole number"),
        (
            "door_contact: {line: 17, active_low: true, bias: pull-up}\n", "",
            "t.yaml:5: inputs.door_contact: missing (required): the door position switch drives relock and alarms"
        ),
    ])
    func badProfilesNameFileKeyAndValue(_ c: (String, String, String)) {
        let text = Self.good.replacingOccurrences(of: c.0, with: c.1)
        do {
            _ = try BoardProfile.parse(text, file: "t.yaml")
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.description == c.2)
        }
    }

    @Test func notYAMLAtAll() {
        #expect(throws: ConfigError.self) { try BoardProfile.parse("relay: [unclosed", file: "x.yaml") }
        #expect(throws: ConfigError.self) { try BoardProfile.parse("", file: "x.yaml") }
        #expect(throws: ConfigError.self) { try BoardProfile.parse("- a\n- b", file: "x.yaml") }
    }
}
