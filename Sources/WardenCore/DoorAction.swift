/// What the door state machine asks its owner to do. The owner performs them in order.
public enum DoorAction: Sendable, Equatable {
    /// Drive the lock to unlocked (true) or locked (false); the board layer maps this to a relay level.
    case setRelay(unlocked: Bool)
    case audit(AuditEvent)
}
