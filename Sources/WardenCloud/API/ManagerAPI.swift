import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import PostgresNIO
import WardenWire

/// The managers' REST API, version 1 (docs/openapi.yaml, docs/api.md): every handler confines its queries to the
/// caller's org (and a site manager's sites), so another org's object is simply not found. Writes go through
/// `CloudOperations` where a board must hear of them (grants, revokes, commands).
public struct ManagerAPI: Sendable {
    public struct Route: Sendable, Hashable, CustomStringConvertible {
        public var method: String
        public var path: String
        public var description: String { "\(method) \(path)" }
    }

    public typealias Handler = @Sendable (Request, APIContext) async throws -> Response

    let operations: CloudOperations
    let logger: Logger
    /// How browsers reach warden-cloud (`http.public_url`): single sign-on's redirect URI is built on it.
    let publicURL: String
    var db: PostgresClient { operations.store.client }

    public init(operations: CloudOperations, logger: Logger, publicURL: String = "http://127.0.0.1:8080") {
        self.operations = operations
        self.logger = logger
        self.publicURL = publicURL.hasSuffix("/") ? String(publicURL.dropLast()) : publicURL
    }

    /// Adds the API's routes to `router` and returns them (a test compares them with docs/openapi.yaml).
    @discardableResult
    public func register(on router: Router<APIContext>) -> [Route] {
        var table = RouteTable(router: router)
        registerDirectory(&table)
        registerPeople(&table)
        registerKeys(&table)
        registerAudit(&table)
        registerEvents(&table)
        registerWebhooks(&table)
        registerSSO(&table)
        registerLockdownPlans(&table)
        registerRollouts(&table)
        registerSupportBundles(&table)
        registerBoardProvisioning(&table)
        return table.routes
    }

    struct RouteTable {
        let router: Router<APIContext>
        var routes: [Route] = []

        mutating func on(_ method: HTTPRequest.Method, _ path: String, _ handler: @escaping Handler) {
            routes.append(Route(method: method.rawValue, path: path))
            router.on(RouterPath(path), method: method, use: handler)
        }
    }

    // MARK: shared helpers

    func rows(_ query: PostgresQuery) async throws -> [PostgresRow] {
        var out: [PostgresRow] = []
        for try await row in try await db.query(query, logger: logger) { out.append(row) }
        return out
    }

    /// The path parameter `name`, checked as an id (a malformed id reads as not found, like any other).
    static func pathID(_ context: APIContext, _ name: String = "id", what: String) throws(Problem) -> String {
        guard let v = context.parameters.get(name), DeviceTopics.isValidID(v) else { throw Problem.notFound(what) }
        return v
    }

    static func query(_ request: Request, _ name: String) -> String? {
        request.uri.queryParameters[Substring(name)].map(String.init)
    }

    /// An id-valued query filter, checked: a malformed one is a 422 naming it (never a query with odd bytes).
    static func queryID(_ request: Request, _ name: String) throws(Problem) -> String? {
        guard let v = query(request, name) else { return nil }
        try APIInput.id(v, name)
        return v
    }

    static func noContent() -> Response { Response(status: .noContent) }

    /// A site manager may act on a door only on one of their sites; otherwise the door does not exist for them.
    func door(_ id: String, for caller: Principal) async throws -> (site: String, name: String, version: Int64) {
        for row in try await rows(
            "SELECT site_id, name, access_version FROM doors WHERE org_id = \(caller.org) AND id = \(id)"
        ) {
            let (site, name, version) = try row.decode((String, String, Int64).self)
            guard caller.sees(site: site) else { break }
            return (site, name, version)
        }
        throw Problem.notFound("door '\(id)'")
    }

    /// The doors named (directly and through groups), each checked to exist and be visible; the resolved set.
    func resolveDoors(
        _ doors: [String],
        groups: [String],
        for caller: Principal,
        field: String = "doors"
    ) async throws
        -> [String]
    {
        try APIInput.ids(doors, field)
        try APIInput.ids(groups, "groups", max: 100)
        var all = Set(doors)
        if !groups.isEmpty {
            var found = Set<String>()
            for row in try await rows(
                "SELECT id, doors FROM door_groups WHERE org_id = \(caller.org) AND id = ANY(\(groups))"
            ) {
                let (id, members) = try row.decode((String, [String]).self)
                found.insert(id)
                all.formUnion(members)
            }
            if let missing = groups.first(where: { !found.contains($0) }) {
                throw Problem.invalid("groups", "no door group '\(missing)'")
            }
        }
        let wanted = Array(all)
        var visible = Set<String>()
        for row in try await rows(
            "SELECT id, site_id FROM doors WHERE org_id = \(caller.org) AND id = ANY(\(wanted))"
        ) {
            let (id, site) = try row.decode((String, String).self)
            if caller.sees(site: site) { visible.insert(id) }
        }
        for d in doors where !visible.contains(d) { throw Problem.invalid(field, "no door '\(d)'") }
        if let outside = wanted.first(where: { !visible.contains($0) }) {
            throw Problem.invalid("groups", "the groups include door '\(outside)', which is not yours to grant")
        }
        return wanted.sorted()
    }
}
