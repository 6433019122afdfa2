import HTTPTypes

/// Who is asking and what they may do: the org every query is confined to, the role, and for a site manager the
/// sites they manage. Built by `Authenticator` from an API token or a dashboard session; handlers only read it.
public struct Principal: Sendable, Equatable {
    public enum Role: String, Sendable, Codable, CaseIterable {
        case admin
        case siteManager = "site_manager"
        case viewer
        /// Holds keys only: no API or dashboard access.
        case holder
    }

    public enum Via: Sendable, Equatable {
        case token(id: String, write: Bool)
        case session(csrf: String)
    }

    public var org: String
    public var user: String
    public var role: Role
    public var sites: [String]
    public var via: Via

    public init(org: String, user: String, role: Role, sites: [String], via: Via) {
        self.org = org
        self.user = user
        self.role = role
        self.sites = sites
        self.via = via
    }

    /// The sites this caller sees; nil means all of the org's.
    public var siteFilter: [String]? { role == .siteManager ? sites : nil }

    public func sees(site: String) -> Bool { siteFilter.map { $0.contains(site) } ?? true }

    /// Changes to doors, keys and devices: admins everywhere, site managers on their sites. A read-only token
    /// cannot, whatever its owner's role.
    public func requireWrite() throws(Problem) {
        if case .token(_, write: false) = via { throw Problem(.forbidden, "this API token is read-only") }
        guard role == .admin || role == .siteManager else { throw Problem.forbidden }
    }

    /// Org-wide changes (sites, users' roles, API tokens of others, webhooks): admins only.
    public func requireAdmin() throws(Problem) {
        try requireWrite()
        guard role == .admin else { throw Problem(.forbidden, "only an org admin can do this") }
    }
}
