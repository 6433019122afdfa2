/// Door timings from the board profile and site config.
public struct DoorTiming: Sendable, Equatable {
    public var pulse: Duration
    public var extendedPulse: Duration
    public var heldOpenAfter: Duration
    public var debounce: [DoorInput: Duration]
    /// The door may still open this long after the relay relocks (latch and person are slower than the relay).
    public var openGrace: Duration

    public init(
        pulse: Duration = .seconds(5),
        extendedPulse: Duration = .seconds(15),
        heldOpenAfter: Duration = .seconds(30),
        debounce: [DoorInput: Duration] = [:],
        openGrace: Duration = .seconds(1)
    ) {
        self.pulse = pulse
        self.extendedPulse = extendedPulse
        self.heldOpenAfter = heldOpenAfter
        self.debounce = debounce
        self.openGrace = openGrace
    }
}
