import Foundation
import HTTPTypes
import Testing
import WardenCloud

extension CloudAPISuite {
    /// Each role tried at its limits: a site manager sees and acts on their sites only (the rest is not found), a
    /// viewer reads everything and changes nothing, a read-only token cannot write whatever its owner's role, a key
    /// holder and a stranger get no API at all.
    @Suite struct RoleTests {
        @Test func siteManagerIsConfinedToTheirSites() async throws {
            let fx = try await APIFixture()
            try await fx.run { api in
                #expect(try await api.get("/v1/sites", as: "max").ids == ["hq"])
                #expect(try await api.get("/v1/doors", as: "max").ids == ["front"])
                #expect(try await api.get("/v1/devices", as: "max").ids == ["board-front"])
                #expect(try await api.get("/v1/doors/lab-door", as: "max").status == .notFound)
                #expect(try await api.get("/v1/sites/lab", as: "max").status == .notFound)
                #expect(try await api.get("/v1/devices/board-lab", as: "max").status == .notFound)
                #expect(try await api.post("/v1/doors/lab-door/unlock", as: "max").status == .notFound)
                #expect(try await api.post("/v1/sites/lab/lockdown", #"{"on":true}"#, as: "max").status == .notFound)
                let unlock = try await api.post("/v1/doors/front/unlock", as: "max")
                #expect(unlock.status == .ok, "\(unlock.body)")
                #expect(await fx.sql("SELECT device_id, cmd FROM commands") == "board-front|unlock")

                // Sites and roles are an admin's.
                #expect(
                    try await api.post("/v1/sites", #"{"id":"x","name":"X","time_zone":"UTC"}"#, as: "max").status
                        == .forbidden
                )
                #expect(
                    try await api.call(.patch, "/v1/sites/hq", as: "max", json: #"{"name":"Mine"}"#).status
                        == .forbidden
                )
                let admin = try await api.post(
                    "/v1/users",
                    #"{"email":"new@acme.example","name":"New","role":"admin"}"#,
                    as: "max"
                )
                #expect(admin.status == .forbidden)
                let holder = try await api.post(
                    "/v1/users",
                    #"{"id":"guest","email":"guest@acme.example","name":"Guest"}"#,
                    as: "max"
                )
                #expect(holder.status == .created && holder.object["role"] as? String == "holder", "\(holder.body)")

                // Keys: on their doors only; a key that reaches another site is not theirs to see.
                let outside = try await api.post("/v1/keys", #"{"user":"guest","doors":["lab-door"]}"#, as: "max")
                #expect(outside.status == .unprocessableContent && outside.field == "doors", "\(outside.body)")
                let inside = try await api.post("/v1/keys", #"{"user":"guest","doors":["front"]}"#, as: "max")
                #expect(inside.status == .created, "\(inside.body)")
                let adasKey = try await api.post("/v1/keys", #"{"user":"holly","doors":["front","lab-door"]}"#)
                let adasID = try #require(adasKey.object["id"] as? String)
                #expect(try await api.get("/v1/keys", as: "max").ids == [inside.object["id"] as? String])
                #expect(try await api.get("/v1/keys/\(adasID)", as: "max").status == .notFound)
                #expect(try await api.post("/v1/keys/\(adasID)/revoke", as: "max").status == .notFound)
                #expect(await fx.sql("SELECT status FROM keys WHERE id = '\(adasID)'") == "active")
            }
        }

        @Test func viewerReadOnlyTokenHolderAndStranger() async throws {
            let fx = try await APIFixture()
            try await fx.run { api in
                #expect(try await api.get("/v1/doors", as: "vic").ids == ["front", "lab-door"])
                #expect(try await api.get("/v1/audit", as: "vic").status == .ok)
                for (method, path, body) in [
                    (HTTPRequest.Method.post, "/v1/keys", #"{"user":"holly","doors":["front"]}"#),
                    (.post, "/v1/doors/front/unlock", "{}"),
                    (.post, "/v1/doors/front/lockdown", #"{"on":true}"#),
                    (.post, "/v1/users", #"{"email":"v@acme.example","name":"V"}"#),
                    (.post, "/v1/devices", #"{"id":"nb","door":"front"}"#),
                    (.post, "/v1/devices/board-front/decommission", "{}"),
                    (.post, "/v1/enrollment-tokens", #"{"site":"hq"}"#),
                    (.patch, "/v1/users/holly", #"{"name":"H"}"#),
                ] {
                    let viewer = try await api.call(method, path, as: "vic", json: body)
                    #expect(viewer.status == .forbidden, "viewer \(method) \(path): \(viewer.status)")
                    let readOnly = try await api.call(method, path, as: "ada-read", json: body)
                    #expect(readOnly.status == .forbidden, "read-only token \(method) \(path): \(readOnly.status)")
                    #expect(readOnly.body.contains("read-only"))
                }
                #expect(try await api.get("/v1/keys", as: "ada-read").status == .ok)
                // A read-only token makes no tokens; a viewer, even with a write-scoped token, makes read tokens only,
                // and the role still forbids every change.
                #expect(try await api.post("/v1/api-tokens", #"{"name":"r"}"#, as: "vic").status == .forbidden)
                let vicWrite = try await Accounts.createToken(
                    fx.runtime.store.client,
                    org: "acme",
                    user: "vic",
                    name: "w",
                    write: true,
                    logger: fx.runtime.logger
                ).token
                let escalate = try await api.call(
                    .post,
                    "/v1/api-tokens",
                    as: nil,
                    json: #"{"name":"w","scope":"write"}"#,
                    token: vicWrite
                )
                #expect(escalate.status == .unprocessableContent && escalate.field == "scope", "\(escalate.body)")
                #expect(
                    try await api.call(.post, "/v1/api-tokens", as: nil, json: #"{"name":"r"}"#, token: vicWrite).status
                        == .created
                )
                #expect(
                    try await api.call(.post, "/v1/doors/front/unlock", as: nil, json: "{}", token: vicWrite).status
                        == .forbidden
                )

                // No credentials, bad credentials, a key holder's token: 401 with a challenge.
                let none = try await api.get("/v1/doors", as: nil)
                #expect(none.status == .unauthorized && none.headers[.wwwAuthenticate] != nil)
                #expect(none.headers[.contentType] == "application/problem+json")
                #expect(
                    try await api.call(
                        .get,
                        "/v1/doors",
                        as: nil,
                        token: "wdn_nope_" + String(repeating: "a", count: 43)
                    )
                    .status == .unauthorized
                )
                #expect(try await api.call(.get, "/v1/doors", as: nil, token: "garbage").status == .unauthorized)
                let forged = try await api.call(
                    .get,
                    "/v1/doors",
                    as: nil,
                    headers: [.authorization: "Basic YWRhOnBhc3N3b3Jk"]
                )
                #expect(forged.status == .unauthorized)
                let holly = try await Accounts.createToken(
                    fx.runtime.store.client,
                    org: "acme",
                    user: "holly",
                    name: "x",
                    write: true,
                    logger: fx.runtime.logger
                ).token
                #expect(try await api.call(.get, "/v1/doors", as: nil, token: holly).status == .unauthorized)
                // A disabled person's token stops working at once.
                #expect(try await api.call(.patch, "/v1/users/vic", json: #"{"disabled":true}"#).status == .ok)
                #expect(try await api.get("/v1/doors", as: "vic").status == .unauthorized)
            }
            #expect(await fx.sql("SELECT count(*) FROM keys") == "0")
            #expect(await fx.sql("SELECT count(*) FROM commands") == "0")
        }
    }
}
