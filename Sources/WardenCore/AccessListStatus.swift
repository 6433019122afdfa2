/// What the board's cached access list says about one credential id.
public enum AccessListStatus: Sendable, Equatable {
    /// Listed and active.
    case active
    /// Revoked by the authority (a signed access-list change).
    case revoked
    /// Not in the list at all.
    case unlisted
}
