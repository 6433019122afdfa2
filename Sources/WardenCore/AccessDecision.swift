import WardenWire

/// The outcome of evaluating one presentation. A grant carries what the door needs to act on it.
public enum AccessDecision: Sendable, Equatable {
    case granted(Grant)
    case denied(DenyReason, credentialID: String?, userID: String?)

    public struct Grant: Sendable, Equatable {
        public var credentialID: String
        public var userID: String
        public var extendedTime: Bool

        public init(credentialID: String, userID: String, extendedTime: Bool) {
            self.credentialID = credentialID
            self.userID = userID
            self.extendedTime = extendedTime
        }
    }

    public var isGranted: Bool {
        if case .granted = self { return true }
        return false
    }

    public var denyReason: DenyReason? {
        if case .denied(let reason, _, _) = self { return reason }
        return nil
    }
}
