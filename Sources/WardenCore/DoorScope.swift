/// Which door a board controls and the groups it belongs to, as a credential's `doors` and `groups` name them.
public struct DoorScope: Sendable, Equatable {
    public var doorID: String
    public var groups: Set<String>

    public init(doorID: String, groups: Set<String> = []) {
        self.doorID = doorID
        self.groups = groups
    }

    public func admits(_ credential: Credential) -> Bool {
        credential.doors.contains(doorID) || !credential.groups.isDisjoint(with: groups)
    }
}
