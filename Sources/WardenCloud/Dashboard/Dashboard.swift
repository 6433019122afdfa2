import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Mustache
import NIOCore
import PostgresNIO
import WardenWire

/// The managers' dashboard: server-rendered pages (swift-mustache) over the same queries as the API, a session
/// cookie from a password login, and a little plain JavaScript for live updates (`/v1/events`). Forms post back
/// here with a CSRF field; a refused form shows the page again with the API's message.
struct Dashboard: Sendable {
    let api: ManagerAPI
    let library: MustacheLibrary
    /// `Secure` on the session cookie: on, except when warden-cloud listens on loopback only (the demo and tests,
    /// plain HTTP); in production TLS ends at a proxy in front of it.
    let secureCookies: Bool
    static let sessionLifetime: TimeInterval = 12 * 3600
    /// Failed logins allowed per email in the window before answering 429 (counted in the database, so across
    /// instances).
    static let loginFailures = 5
    static let loginWindow = "15 minutes"

    init(api: ManagerAPI, secureCookies: Bool) throws {
        self.api = api
        self.secureCookies = secureCookies
        var library = MustacheLibrary()
        for (name, text) in DashboardTemplates.all { try library.register(text, named: name) }
        self.library = library
    }

    var db: PostgresClient { api.db }
    var logger: Logger { api.logger }

    func register(on router: Router<APIContext>) {
        router.get("dashboard.css") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "text/css; charset=utf-8", .cacheControl: "max-age=300"],
                body: .init(byteBuffer: ByteBuffer(string: DashboardTemplates.css))
            )
        }
        router.get("dashboard.js") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "text/javascript; charset=utf-8", .cacheControl: "max-age=300"],
                body: .init(byteBuffer: ByteBuffer(string: DashboardTemplates.js))
            )
        }
        router.get("login") { _, c in
            if c.principal != nil { return Self.redirect("/") }
            return try page("login", title: "Log in", nil, [:])
        }
        router.post("login") { r, c in try await login(r, c) }
        router.get("login/sso") { r, _ in try await startSSO(r) }
        router.get("login/sso/callback") { r, _ in try await finishSSO(r) }
        router.post("logout") { r, c in
            guard let caller = c.principal else { return Self.redirect("/login") }
            let form = try await Self.form(r, c)
            try Self.checkCSRF(form, caller)
            if let cookie = r.cookies[Authenticator.sessionCookie]?.value {
                try await db.query(
                    "DELETE FROM sessions WHERE hash = \(ByteBuffer(bytes: Secrets.hash(cookie)))",
                    logger: logger
                )
            }
            var response = Self.redirect("/login")
            response.headers[.setCookie] = cookieHeader(value: "", maxAge: 0)
            return response
        }
        router.get("/") { _, c in try await signedIn(c) { try await doorsPage($0, error: nil) } }
        router.post("doors/{id}/unlock") { r, c in
            try await signedIn(c) { caller in
                let form = try await Self.form(r, c)
                try Self.checkCSRF(form, caller)
                do {
                    let id = try ManagerAPI.pathID(c, what: "door")
                    _ = try await api.door(id, for: caller)
                    try caller.requireWrite()
                    _ = try await api.send(
                        .unlock,
                        millis: 5000,
                        to: try await api.boards(of: id, caller),
                        caller: caller
                    )
                    return Self.redirect("/")
                } catch let p as Problem { return try await doorsPage(caller, error: p.detail) }
            }
        }
        router.post("sites/{id}/lockdown-plans/{plan}/trigger") { r, c in
            try await signedIn(c) { caller in
                let form = try await Self.form(r, c)
                try Self.checkCSRF(form, caller)
                do {
                    let site = try ManagerAPI.pathID(c, what: "site")
                    _ = try await api.site(site, caller)
                    let plan = try await api.lockdownPlan(
                        caller.org,
                        site: site,
                        id: try ManagerAPI.pathID(c, "plan", what: "lockdown plan")
                    )
                    try caller.requireWrite()
                    let on = form.first("on") == "1"
                    let sent = try await api.triggerLockdownPlan(plan, on: on, caller: caller)
                    return try await doorsPage(
                        caller,
                        error: nil,
                        notice: "\(on ? "Lockdown started" : "Lockdown lifted"): \(plan.name) "
                            + "(\(sent.commands.count) board\(sent.commands.count == 1 ? "" : "s"))."
                    )
                } catch let p as Problem { return try await doorsPage(caller, error: p.detail) }
            }
        }
        router.get("audit") { r, c in try await signedIn(c) { try await auditPage(r, $0) } }
        router.get("people") { _, c in try await signedIn(c) { try await peoplePage($0, error: nil, notice: nil) } }
        router.post("people/keys") { r, c in
            try await signedIn(c) { caller in
                let form = try await Self.form(r, c)
                try Self.checkCSRF(form, caller)
                do {
                    try caller.requireWrite()
                    let until = try form.first("valid_until").flatMap { v throws(Problem) -> Date? in
                        guard !v.isEmpty else { return nil }
                        guard let d = APIJSON.parseDate(v + "T23:59:59Z") else {
                            throw Problem.invalid("valid_until", "'\(v.prefix(20))' is not a date")
                        }
                        return d
                    }
                    let input = APIModel.KeyInput(
                        user: form.first("user") ?? "",
                        doors: form.all("doors"),
                        groups: nil,
                        validFrom: nil,
                        validUntil: until,
                        schedule: nil,
                        extendedTime: nil,
                        oneTime: nil
                    )
                    let key = try await api.grant(input, caller: caller)
                    let person = try await api.userNames(caller.org, ids: [key.user])[key.user] ?? key.user
                    let doorNames = ManagerAPI.doorNames(try await api.doors(caller, site: nil))
                    return try await peoplePage(
                        caller,
                        error: nil,
                        notice:
                            "Key granted to \(person): \(key.doors.map { doorNames[$0] ?? $0 }.joined(separator: ", "))."
                    )
                } catch let p as Problem { return try await peoplePage(caller, error: p.detail, notice: nil) }
            }
        }
        router.post("people/keys/{id}/revoke") { r, c in
            try await signedIn(c) { caller in
                let form = try await Self.form(r, c)
                try Self.checkCSRF(form, caller)
                do {
                    let id = try ManagerAPI.pathID(c, what: "key")
                    let key = try await api.keyModel(id, caller)
                    try caller.requireWrite()
                    try await api.revokeKey(id, caller: caller)
                    let person = try await api.userNames(caller.org, ids: [key.user])[key.user] ?? key.user
                    return try await peoplePage(caller, error: nil, notice: "Revoked \(person)'s key.")
                } catch let p as Problem { return try await peoplePage(caller, error: p.detail, notice: nil) }
            }
        }
        router.post("people/users") { r, c in
            try await signedIn(c) { caller in
                let form = try await Self.form(r, c)
                try Self.checkCSRF(form, caller)
                do {
                    try caller.requireWrite()
                    let name = form.first("name") ?? ""
                    let email = form.first("email") ?? ""
                    try APIInput.text(name, "name")
                    try APIInput.email(email)
                    if try await api.emailTaken(email, org: caller.org) {
                        throw Problem(.conflict, "someone with this email is already here", field: "email")
                    }
                    try await Accounts.createUser(
                        db,
                        org: caller.org,
                        id: Secrets.id("u"),
                        email: email,
                        name: name,
                        role: .holder,
                        passwordHash: nil,
                        logger: logger
                    )
                    return try await peoplePage(caller, error: nil, notice: "Added \(name).")
                } catch let p as Problem { return try await peoplePage(caller, error: p.detail, notice: nil) }
            }
        }
        router.post("people/users/{id}/invite") { r, c in
            try await signedIn(c) { caller in
                let form = try await Self.form(r, c)
                try Self.checkCSRF(form, caller)
                do {
                    let id = try ManagerAPI.pathID(c, what: "user")
                    let user = try await api.user(id, caller)
                    try caller.requireWrite()
                    let invitation = try await api.invite(user: id, hours: 72, caller: caller)
                    let host = r.head.authority ?? "127.0.0.1"
                    return try page(
                        "invited",
                        title: "Invitation for \(user.name)",
                        caller,
                        [
                            "name": user.name, "token": invitation.token,
                            "expires": Self.display(invitation.expiresAt),
                            "cloud": "\(secureCookies ? "https" : "http")://\(host)",
                        ]
                    )
                } catch let p as Problem { return try await peoplePage(caller, error: p.detail, notice: nil) }
            }
        }
        router.get("devices") { _, c in try await signedIn(c) { try await devicesPage($0) } }
        // An installer's enrollment token for one door: shown once, with the command to run on the board.
        router.post("devices/enrollment") { r, c in
            try await signedIn(c) { caller in
                let form = try await Self.form(r, c)
                try Self.checkCSRF(form, caller)
                do {
                    let doorID = form.first("door") ?? ""
                    try APIInput.id(doorID, "door")
                    guard let door = try? await api.door(doorID, for: caller) else {
                        throw Problem.invalid("door", "no door '\(doorID)'")
                    }
                    let hours = Int(form.first("hours") ?? "24") ?? 24
                    let token = try await api.createEnrollmentToken(
                        APIModel.EnrollmentTokenInput(site: door.site, door: doorID, validMinutes: hours * 60),
                        caller: caller
                    )
                    let host = r.head.authority ?? "127.0.0.1"
                    return try page(
                        "enrolled",
                        title: "Enrollment token for \(door.name)",
                        caller,
                        [
                            "door": door.name, "doorID": doorID, "token": token.token ?? "",
                            "expires": Self.display(token.expiresAt),
                            "cloud": "\(secureCookies ? "https" : "http")://\(host)",
                        ]
                    )
                } catch let p as Problem { return try await devicesPage(caller, error: p.detail) }
            }
        }
        // Software rollouts (org admins): the same checks as POST /v1/rollouts and its abort.
        router.post("devices/rollouts") { r, c in
            try await signedIn(c) { caller in
                let form = try await Self.form(r, c)
                try Self.checkCSRF(form, caller)
                do {
                    try caller.requireAdmin()
                    let waves = (form.first("waves") ?? "").split(separator: ",")
                        .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
                    guard let failures = Int(form.first("max_failures") ?? "0") else {
                        throw Problem.invalid("max_failures", "a whole number")
                    }
                    let input = APIModel.RolloutInput(
                        version: (form.first("version") ?? "").trimmingCharacters(in: .whitespaces),
                        channel: nil,
                        waves: waves.isEmpty ? nil : waves,
                        maxFailures: failures,
                        devices: nil
                    )
                    _ = try await api.startRollout(input, caller: caller)
                    return try await devicesPage(caller)
                } catch let p as Problem { return try await devicesPage(caller, error: p.detail) }
            }
        }
        // A support bundle from a board (org admins): the same request as POST /v1/devices/{id}/support-bundles.
        router.post("devices/{id}/support-bundle") { r, c in
            try await signedIn(c) { caller in
                let form = try await Self.form(r, c)
                try Self.checkCSRF(form, caller)
                do {
                    let device = try await api.deviceModel(try ManagerAPI.pathID(c, what: "device"), caller)
                    try caller.requireAdmin()
                    _ = try await api.requestBundle(device: device.id, caller: caller)
                    return try await devicesPage(caller)
                } catch let p as Problem { return try await devicesPage(caller, error: p.detail) }
            }
        }
        router.post("devices/rollouts/{id}/abort") { r, c in
            try await signedIn(c) { caller in
                let form = try await Self.form(r, c)
                try Self.checkCSRF(form, caller)
                do {
                    try caller.requireAdmin()
                    _ = try await api.abortRollout(try ManagerAPI.pathID(c, what: "rollout"), caller: caller)
                    return try await devicesPage(caller)
                } catch let p as Problem { return try await devicesPage(caller, error: p.detail) }
            }
        }
        router.get("webhooks") { _, c in try await signedIn(c) { try await webhooksPage($0, error: nil, notice: nil) } }
        router.post("webhooks") { r, c in
            try await signedIn(c) { caller in
                let form = try await Self.form(r, c)
                try Self.checkCSRF(form, caller)
                do {
                    let input = APIModel.WebhookInput(
                        url: form.first("url") ?? "",
                        events: form.all("events"),
                        format: form.first("format")
                    )
                    let hook = try await api.createWebhook(input, caller: caller)
                    return try await webhooksPage(caller, error: nil, notice: nil, secret: hook.secret)
                } catch let p as Problem { return try await webhooksPage(caller, error: p.detail, notice: nil) }
            }
        }
        router.post("webhooks/{id}/test") { r, c in
            try await signedIn(c) { caller in
                let form = try await Self.form(r, c)
                try Self.checkCSRF(form, caller)
                do {
                    let id = try ManagerAPI.pathID(c, what: "webhook")
                    _ = try await api.testWebhook(id, caller: caller)
                    return try await webhooksPage(
                        caller,
                        error: nil,
                        notice: "Test delivery queued; it shows below in a moment."
                    )
                } catch let p as Problem { return try await webhooksPage(caller, error: p.detail, notice: nil) }
            }
        }
    }

    // MARK: pages

    func doorsPage(_ caller: Principal, error: String?, notice: String? = nil) async throws -> Response {
        let doors = try await api.doors(caller, site: nil)
        var plans: [[String: Any]] = []
        for site in try await api.sites(caller) {
            for plan in try await api.lockdownPlans(caller.org, site: site.id) {
                plans.append([
                    "id": plan.id, "name": plan.name, "site": site.id, "siteName": site.name,
                    "doorList": plan.doors.isEmpty ? "every door" : plan.doors.joined(separator: ", "),
                    "canWrite": canWrite(caller), "csrf": csrf(caller),
                ])
            }
        }
        let alarms = try await api.alarms(caller, limit: 5)
        var q = ManagerAPI.AuditQuery()
        q.kinds = ["access_granted", "access_denied"]
        let recent = try await api.audit(q, caller, limit: 15)
        let doorNames = ManagerAPI.doorNames(doors)
        let userNames = try await api.userNames(caller.org, ids: recent.compactMap(\.user))
        return try page(
            "doors",
            title: "Doors",
            caller,
            [
                "doorsPage": true, "error": error as Any, "notice": notice as Any, "plans": plans,
                "hasPlans": !plans.isEmpty,
                "doors": doors.map {
                    [
                        "id": $0.id, "name": $0.name, "site": $0.site, "state": $0.state, "boards": $0.boards,
                        "boardsOnline": $0.boardsOnline, "canWrite": canWrite(caller), "csrf": csrf(caller),
                    ] as [String: Any]
                },
                "alarms": alarms.map {
                    [
                        "kind": $0.kind, "reason": $0.reason ?? "", "door": $0.door ?? $0.device,
                        "at": Self.display($0.at),
                    ]
                },
                "recent": recent.map { Self.eventRow($0, users: userNames, doors: doorNames) },
            ]
        )
    }

    /// One event as a person reads it: names rather than ids (the id stays in a tooltip), the kind in words. A
    /// decision without a known holder says "unknown credential"; other records name no one.
    static func eventRow(_ e: APIModel.AuditEvent, users: [String: String], doors: [String: String]) -> [String: Any] {
        let person = e.user.map { users[$0] ?? $0 } ?? (e.result == nil ? "" : "unknown credential")
        return [
            "at": Self.display(e.at), "result": e.result ?? "", "user": person, "userID": e.user ?? "",
            "door": e.door.map { doors[$0] ?? $0 } ?? e.device, "reason": e.reason.map(DashboardLabels.words) ?? "",
            "kind": DashboardLabels.kind(e.kind),
        ]
    }

    func auditPage(_ r: Request, _ caller: Principal) async throws -> Response {
        var error: String?
        var q = ManagerAPI.AuditQuery()
        var query = Dictionary(r.uri.queryParameters.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        // The date field sends a day; the API wants a time.
        if let since = query["since"], !since.isEmpty { query["since"] = since + "T00:00:00Z" }
        for key in ["door", "user", "result", "since"] where query[Substring(key)]?.isEmpty == true {
            query[Substring(key)] = nil
        }
        do {
            q = try await api.auditQuery({ query[Substring($0)].map(String.init) }, caller)
        } catch let p as Problem { error = p.detail }
        var events = try await api.audit(q, caller, limit: 101)
        var older: String?
        if events.count > 100 {
            events.removeLast()
            var next = query
            next["cursor"] = events.last.map(AuditCursor.init(event:))?.encoded[...]
            if let since = next["since"] { next["since"] = since.prefix(10) }
            older = Self.path("/audit", next)
        }
        let doors = try await api.doors(caller, site: nil)
        let doorNames = ManagerAPI.doorNames(doors)
        let userNames = try await api.userNames(caller.org, ids: events.compactMap(\.user))
        let result = query["result"].map(String.init) ?? ""
        var exportQuery = query
        exportQuery["cursor"] = nil
        return try page(
            "audit",
            title: "Activity",
            caller,
            [
                "auditPage": true, "error": error as Any,
                "events": events.map { Self.eventRow($0, users: userNames, doors: doorNames) },
                "olderURL": older as Any,
                "user": query["user"].map(String.init) ?? "",
                "people": try await api.users(caller).map { ["id": $0.id, "name": $0.name, "email": $0.email] },
                "since": query["since"].map { String($0.prefix(10)) } ?? "",
                "doorOptions": doors.map {
                    ["id": $0.id, "name": $0.name, "selected": query["door"].map(String.init) == $0.id]
                },
                "resultOptions": [("", "Any"), ("granted", "Granted"), ("denied", "Denied"), ("alarm", "Alarms")].map {
                    ["value": $0.0, "label": $0.1, "selected": $0.0 == result]
                },
                "exportURL": Self.path("/v1/audit/export", exportQuery),
            ]
        )
    }

    func peoplePage(_ caller: Principal, error: String?, notice: String?) async throws -> Response {
        let users = try await api.users(caller)
        let keys = try await api.keys(caller, ManagerAPI.KeyFilter())
        let doors = try await api.doors(caller, site: nil)
        let names = Dictionary(users.map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
        let write = canWrite(caller)
        return try page(
            "people",
            title: "People and keys",
            caller,
            [
                "peoplePage": true, "error": error as Any, "notice": notice as Any, "canWrite": write,
                "holders": users.filter { !$0.disabled }.map { ["id": $0.id, "name": $0.name, "email": $0.email] },
                "doors": doors.map { ["id": $0.id, "name": $0.name] },
                "keys": keys.map {
                    [
                        "id": $0.id, "user": names[$0.user] ?? $0.user,
                        "doorList": ($0.doors + $0.groups.map { "group " + $0 }).joined(separator: ", "),
                        "validUntil": Self.display($0.validUntil), "phones": $0.phones, "status": $0.status,
                        "revocable": write && $0.status == "active", "csrf": csrf(caller),
                    ] as [String: Any]
                },
                "users": users.map {
                    [
                        "id": $0.id, "name": $0.name, "email": $0.email, "role": $0.role,
                        "canInvite": write && ($0.role == "holder" || caller.role == .admin), "csrf": csrf(caller),
                    ] as [String: Any]
                },
            ]
        )
    }

    func webhooksPage(
        _ caller: Principal,
        error: String?,
        notice: String?,
        secret: String? = nil
    ) async throws
        -> Response
    {
        try ManagerAPI.requireAdminRole(caller)
        var hooks: [[String: Any]] = []
        for h in try await api.webhooks(caller, only: nil) {
            let log = try await api.deliveries(caller, webhook: h.id, limit: 5)
            hooks.append([
                "id": h.id, "url": h.url, "events": h.events.joined(separator: ", "), "format": h.format,
                "csrf": csrf(caller),
                "deliveries": log.map {
                    [
                        "at": Self.display($0.createdAt), "event": $0.event, "status": $0.status,
                        "attempts": $0.attempts,
                        "answer": $0.lastStatus.map { "HTTP \($0)" } ?? $0.lastError ?? "-",
                    ] as [String: Any]
                },
            ])
        }
        return try page(
            "webhooks",
            title: "Webhooks",
            caller,
            [
                "webhooksPage": true, "error": error as Any, "notice": notice as Any, "secret": secret as Any,
                "hooks": hooks,
            ]
        )
    }

    func devicesPage(_ caller: Principal, error: String? = nil) async throws -> Response {
        let devices = try await api.devices(caller, door: nil, id: nil)
        let newestBundle = caller.role == .admin ? try await api.newestBundles(caller.org) : [:]
        let rollouts = try await api.recentRollouts(caller.org, limit: 5).map(Self.rolloutCard)
        let doors = try await api.doors(caller, site: nil)
        return try page(
            "devices",
            title: "Devices",
            caller,
            [
                "devicesPage": true, "error": error as Any, "canWrite": canWrite(caller) && !doors.isEmpty,
                "rollouts": rollouts, "admin": caller.role == .admin,
                "csrf": csrf(caller), "doors": doors.map { ["id": $0.id, "name": $0.name] },
                "devices": devices.map { d -> [String: Any] in
                    var row: [String: Any] = [
                        "id": d.id, "door": d.door, "state": d.state ?? "unknown",
                        "lastSeen": d.lastSeen.map(Self.display) ?? "never",
                        "applied": d.appliedVersion.map { "v\($0)" } ?? "none", "doorVersion": d.doorVersion,
                        "behind": (d.appliedVersion ?? 0) < d.doorVersion && d.decommissionedAt == nil,
                        "chain": d.chainFlagged ? "problem flagged" : "intact",
                        "software": d.softwareVersion ?? "-",
                    ]
                    row.merge(Self.bundleCell(newestBundle[d.id], decommissioned: d.decommissionedAt != nil)) { a, _ in
                        a
                    }
                    return row
                },
            ]
        )
    }

    /// The newest support bundle of a board, as its cell shows it. Keys are left out rather than set to nil: a
    /// mustache section shows for any present value.
    static func bundleCell(_ b: APIModel.SupportBundle?, decommissioned: Bool) -> [String: Any] {
        var cell: [String: Any] = [:]
        if decommissioned { cell["decommissioned"] = true }
        guard let b else { return cell }
        var bundle: [String: Any] = [
            "bundleID": b.id, "bundleState": b.state, "when": display(b.uploadedAt ?? b.requestedAt),
        ]
        if b.state == "uploaded" {
            bundle["uploaded"] = true
            bundle["size"] = ByteCountFormatter.string(fromByteCount: b.size ?? 0, countStyle: .file)
        }
        cell["bundle"] = bundle
        return cell
    }

    /// A rollout as the devices page shows it: where it stands before the per-board detail.
    static func rolloutCard(_ r: APIModel.Rollout) -> [String: Any] {
        let healthy = r.devices.filter { $0.state == "healthy" }.count
        let failed = r.devices.filter { $0.state == "failed" }.count
        var card: [String: Any] = ["id": r.id, "version": r.version, "channel": r.channel, "state": r.state]
        card["wave"] = r.wave
        card["waveCount"] = r.waves.count
        card["total"] = r.devices.count
        card["healthy"] = healthy
        if failed > 0 { card["failed"] = failed }  // absent, not 0: a section shows for any present value
        card["running"] = r.state == "running"
        if let reason = r.reason { card["reason"] = reason }
        return card
    }

    // MARK: login

    func login(_ r: Request, _ c: APIContext) async throws -> Response {
        let form = try await Self.form(r, c)
        let email = (form.first("email") ?? "").trimmingCharacters(in: .whitespaces)
        let password = form.first("password") ?? ""
        func refuse(_ status: HTTPResponse.Status, _ message: String) throws -> Response {
            var response = try page("login", title: "Log in", nil, ["error": message, "email": email])
            response.status = status
            return response
        }
        guard !email.isEmpty, email.count <= 254, !password.isEmpty, password.utf8.count <= 256 else {
            return try refuse(.unprocessableContent, "Enter your email and password.")
        }
        let recent =
            try await api.rows(
                "SELECT count(*) FROM login_failures WHERE lower(email) = lower(\(email)) AND at > now() - \(Self.loginWindow)::interval"
            ).first?.decode(Int64.self) ?? 0
        if recent >= Self.loginFailures {
            logger.warning("login rate limit reached", metadata: ["failures": "\(recent)"])
            return try refuse(.tooManyRequests, "Too many failed attempts. Wait 15 minutes and try again.")
        }
        let candidates = try await api.rows(
            """
            SELECT org_id, id, password_hash, role FROM users
            WHERE lower(email) = lower(\(email)) AND NOT disabled AND password_hash IS NOT NULL AND role <> 'holder'
            """
        ).map { try $0.decode((String, String, String, String).self) }
        // The same work for an unknown email as for a wrong password: timing tells nothing about who exists.
        let match = candidates.first { Secrets.verifyPassword(password, against: $0.2) }
        if candidates.isEmpty { _ = Secrets.verifyPassword(password, against: Self.decoyHash) }
        guard let (org, user, _, role) = match else {
            try await db.query("INSERT INTO login_failures(email) VALUES (\(email))", logger: logger)
            return try refuse(.unauthorized, "The email or password is wrong.")
        }
        try await db.query(
            "DELETE FROM login_failures WHERE lower(email) = lower(\(email)) OR at < now() - interval '1 day'",
            logger: logger
        )
        if role != Principal.Role.admin.rawValue, try await sso.config(org: org)?.enforced == true {
            var response = try page(
                "login",
                title: "Log in",
                nil,
                ["error": "Your organization signs in through single sign-on: use the form below.", "org": org]
            )
            response.status = .forbidden
            return response
        }
        logger.notice("dashboard login", metadata: ["org": "\(org)", "user": "\(user)"])
        var response = Self.redirect("/")
        response.headers[.setCookie] = try await openSession(org: org, user: user)
        return response
    }

    /// A new session for `user`: the cookie header that carries it.
    func openSession(org: String, user: String) async throws -> String {
        let cookie = Secrets.random()
        try await db.query(
            """
            INSERT INTO sessions(hash, org_id, user_id, csrf, expires_at)
            VALUES (\(ByteBuffer(bytes: Secrets.hash(cookie))), \(org), \(user), \(Secrets.random()),
                \(Date().addingTimeInterval(Self.sessionLifetime)))
            """,
            logger: logger
        )
        return cookieHeader(value: cookie, maxAge: Int(Self.sessionLifetime))
    }

    // MARK: single sign-on

    var sso: SingleSignOn { SingleSignOn(db: db, logger: logger, redirectURI: api.ssoRedirectURI) }
    static let ssoCookie = "warden_sso"

    /// The cookie that ties a sign-in to this browser: Lax (it must come back on the provider's cross-site
    /// redirect) and only for the callback's path.
    func ssoCookieHeader(value: String, maxAge: Int) -> String {
        "\(Self.ssoCookie)=\(value); Path=/login/sso; Max-Age=\(maxAge); HttpOnly; SameSite=Lax"
            + (secureCookies ? "; Secure" : "")
    }

    func ssoRefusal(_ error: SingleSignOnError, org: String?) throws -> Response {
        var response = try page("login", title: "Log in", nil, ["error": error.message, "org": org ?? ""])
        response.status = .init(code: error.status)
        response.headers[.setCookie] = ssoCookieHeader(value: "", maxAge: 0)
        return response
    }

    func startSSO(_ r: Request) async throws -> Response {
        let org = (ManagerAPI.query(r, "org") ?? "").trimmingCharacters(in: .whitespaces).lowercased()
        do {
            let start = try await sso.start(org: org)
            var response = Self.redirect(start.location)
            response.headers[.setCookie] = ssoCookieHeader(value: start.browserSecret, maxAge: 600)
            return response
        } catch let e as SingleSignOnError {
            return try ssoRefusal(e, org: org)
        }
    }

    /// The provider's redirect back. A session cookie is SameSite=Strict, so a browser would not send it on the
    /// rest of this cross-site navigation: the answer is a page of ours that moves on to `/` by itself.
    func finishSSO(_ r: Request) async throws -> Response {
        do {
            let (org, user) = try await sso.finish(
                state: ManagerAPI.query(r, "state"),
                code: ManagerAPI.query(r, "code"),
                error: ManagerAPI.query(r, "error"),
                browserSecret: r.cookies[Self.ssoCookie]?.value
            )
            var response = try page("signedIn", title: "Signed in", nil, [:])
            response.headers[values: .setCookie] = [
                try await openSession(org: org, user: user), ssoCookieHeader(value: "", maxAge: 0),
            ]
            return response
        } catch let e as SingleSignOnError {
            return try ssoRefusal(e, org: nil)
        }
    }

    /// Times as a manager reads them: to the second, UTC, no ISO "T" and "Z" (the API keeps RFC 3339).
    static func display(_ date: Date) -> String {
        date.formatted(
            Date.VerbatimFormatStyle(
                format:
                    "\(year: .defaultDigits)-\(month: .twoDigits)-\(day: .twoDigits) \(hour: .twoDigits(clock: .twentyFourHour, hourCycle: .zeroBased)):\(minute: .twoDigits):\(second: .twoDigits)",
                timeZone: TimeZone(identifier: "UTC")!,
                calendar: Calendar(identifier: .gregorian)
            )
        )
    }

    static let decoyHash = (try? Secrets.hashPassword(Secrets.random())) ?? ""

    func cookieHeader(value: String, maxAge: Int) -> String {
        "\(Authenticator.sessionCookie)=\(value); Path=/; Max-Age=\(maxAge); HttpOnly; SameSite=Strict"
            + (secureCookies ? "; Secure" : "")
    }

    // MARK: helpers

    func signedIn(_ c: APIContext, _ body: (Principal) async throws -> Response) async throws -> Response {
        guard let caller = c.principal, case .session = caller.via else { return Self.redirect("/login") }
        return try await body(caller)
    }

    func canWrite(_ caller: Principal) -> Bool { caller.role == .admin || caller.role == .siteManager }

    func csrf(_ caller: Principal) -> String {
        if case .session(let csrf) = caller.via { return csrf }
        return ""
    }

    func page(_ template: String, title: String, _ caller: Principal?, _ values: [String: Any]) throws -> Response {
        // A nil optional would render as "nil": absent keys render as nothing.
        var context = values.filter { _, value in
            let mirror = Mirror(reflecting: value)
            return mirror.displayStyle != .optional || !mirror.children.isEmpty
        }
        context["title"] = title
        if let caller {
            context["nav"] =
                [
                    "userName": caller.user, "orgName": caller.org, "role": caller.role.rawValue, "csrf": csrf(caller),
                    "admin": caller.role == .admin,
                ] as [String: Any]
            context["csrf"] = csrf(caller)
        }
        guard let html = library.render(context, withTemplate: template) else {
            throw Problem(.internalServerError, "the \(template) page could not be rendered")
        }
        // The login page's single sign-on form leads (by a redirect) to the provider: form-action cannot be 'self'
        // there, and Chrome applies it to a form's redirects too.
        let formAction = template == "login" ? "" : " form-action 'self';"
        return Response(
            status: .ok,
            headers: [
                .contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
                .contentSecurityPolicy:
                    "default-src 'self'; frame-ancestors 'none';\(formAction) base-uri 'none'",
                HTTPField.Name("X-Content-Type-Options")!: "nosniff",
            ],
            body: .init(byteBuffer: ByteBuffer(string: html))
        )
    }

    static func redirect(_ location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location])
    }

    static func path(_ base: String, _ query: [Substring: Substring]) -> String {
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))
        let items = query.sorted { $0.key < $1.key }.map {
            "\($0.key)=\(String($0.value).addingPercentEncoding(withAllowedCharacters: allowed) ?? "")"
        }
        return items.isEmpty ? base : base + "?" + items.joined(separator: "&")
    }

    static func checkCSRF(_ form: FormBody, _ caller: Principal) throws {
        guard case .session(let csrf) = caller.via, let sent = form.first("csrf"),
            Secrets.equal(Array(sent.utf8), Array(csrf.utf8))
        else { throw Problem(.forbidden, "the form is stale or forged (CSRF check failed); reload the page") }
    }

    static func form(_ r: Request, _ c: APIContext) async throws -> FormBody {
        let buffer: ByteBuffer
        do { buffer = try await r.body.collect(upTo: c.maxUploadSize) } catch {
            throw Problem(.contentTooLarge, "the form is larger than \(c.maxUploadSize) bytes")
        }
        return FormBody(String(buffer: buffer))
    }
}
