/// The door's digital inputs. "Active" is the logical level after active-low: door contact active = door closed,
/// request-to-exit active = pressed, tamper active = enclosure opened.
public enum DoorInput: String, Sendable, Codable, CaseIterable {
    case doorContact = "door_contact"
    case rex = "rex"
    case tamper = "tamper"
}
