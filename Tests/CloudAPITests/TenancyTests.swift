import Foundation
import HTTPTypes
import Testing
import WardenCloud

extension CloudAPISuite {
    /// Another org's objects do not exist for you: every endpoint, tried with globex's admin token and acme's ids,
    /// answers 404 (never 403, which would confirm the id), changes nothing, and no list shows them.
    @Suite struct TenancyTests {
        @Test func everyEndpointHidesAnotherOrgsObjects() async throws {
            let fx = try await APIFixture()
            try await fx.run { api in
                // acme objects of every kind an {id} route names.
                #expect(
                    try await api.call(
                        .put,
                        "/v1/door-groups/acme-all",
                        json: #"{"id":"acme-all","name":"All","doors":["front"]}"#
                    ).status == .ok
                )
                let key = try await api.post("/v1/keys", #"{"user":"holly","doors":["front"]}"#)
                #expect(key.status == .created, "\(key.body)")
                let keyID = try #require(key.object["id"] as? String)
                let tokenID = await fx.sql(
                    "SELECT id FROM api_tokens WHERE user_id = 'ada' ORDER BY created_at LIMIT 1"
                )
                #expect(
                    try await api.call(
                        .put,
                        "/v1/sites/hq/lockdown-plans/east",
                        json: #"{"name":"East wing","doors":["front"]}"#
                    ).status == .ok
                )
                let hook = try await api.post("/v1/webhooks", #"{"url":"https://hooks.acme.example/warden"}"#)
                let hookID = try #require(hook.object["id"] as? String, "\(hook.body)")
                let rollout = try await api.post("/v1/rollouts", #"{"version":"2.0.0"}"#)
                let rolloutID = try #require(rollout.object["id"] as? String, "\(rollout.body)")
                let bundle = try await api.post("/v1/devices/board-front/support-bundles")
                let bundleID = try #require(bundle.object["id"] as? String, "\(bundle.body)")
                let acmeIDs: [String: String] = [
                    "/v1/sites/": "hq", "/v1/doors/": "front", "/v1/door-groups/": "acme-all",
                    "/v1/devices/": "board-front", "/v1/users/": "ada", "/v1/keys/": keyID, "/v1/api-tokens/": tokenID,
                    "/v1/webhooks/": hookID, "/v1/rollouts/": rolloutID, "/v1/support-bundles/": bundleID,
                ]
                let bodies: [String: String] = [
                    "PATCH /v1/sites/{id}": #"{"name":"Taken over"}"#,
                    "POST /v1/sites/{id}/lockdown": #"{"on":true}"#,
                    "PUT /v1/sites/{id}/lockdown-plans/{plan}": #"{"name":"Taken over"}"#,
                    "POST /v1/sites/{id}/lockdown-plans/{plan}/trigger": #"{"on":true}"#,
                    "POST /v1/doors/{id}/unlock": "{}",
                    "POST /v1/doors/{id}/lockdown": #"{"on":true}"#,
                    "PATCH /v1/users/{id}": #"{"name":"Taken over"}"#,
                    "POST /v1/users/{id}/invitations": "{}",
                ]
                var tried = 0
                for route in fx.routes where route.path.contains("{id}") {
                    let prefix = try #require(acmeIDs.keys.first { route.path.hasPrefix($0) }, "\(route)")
                    let path = route.path.replacingOccurrences(of: "{id}", with: acmeIDs[prefix]!)
                        .replacingOccurrences(of: "{plan}", with: "east")
                    let method = try #require(HTTPRequest.Method(route.method))
                    if route.description == "PUT /v1/door-groups/{id}" {
                        // Ids are per org: globex may have its own acme-all, but cannot put acme's doors in it.
                        let a = try await api.call(
                            method,
                            path,
                            as: "gus",
                            json: #"{"id":"acme-all","name":"Mine","doors":["front"]}"#
                        )
                        #expect(a.status == .unprocessableContent && a.body.contains("no door 'front'"), "\(a.body)")
                        continue
                    }
                    let a = try await api.call(method, path, as: "gus", json: bodies[route.description])
                    #expect(a.status == .notFound, "\(route) as another org: \(a.status) \(a.body)")
                    tried += 1
                }
                #expect(tried >= 14, "every {id} route was tried")

                for route in fx.routes
                where route.method == "GET" && !route.path.contains("{id}")
                    && route.path != "/v1/phone/credentials" && route.path != "/v1/sso"  // globex has none: SSOTests
                {
                    // The event stream for one second: the doors it announces at its start are the caller's only.
                    let a = try await api.get(route.path + (route.path == "/v1/events" ? "?seconds=1" : ""), as: "gus")
                    #expect(a.status == .ok, "\(route): \(a.status)")
                    for acme in [
                        "hq", "front", "lab-door", "board-front", "ada", "holly", keyID, tokenID, hookID, "acme",
                    ] {
                        #expect(!a.body.contains("\"\(acme)\""), "\(route) shows acme's \(acme): \(a.body)")
                    }
                }
                // Filters and bodies naming acme's objects read as unknown ones.
                #expect(try await api.get("/v1/audit?door=front", as: "gus").status == .notFound)
                let grant = try await api.post("/v1/keys", #"{"user":"ada","doors":["g-door"]}"#, as: "gus")
                #expect(grant.status == .unprocessableContent && grant.field == "user", "\(grant.body)")
                let steal = try await api.post("/v1/keys", #"{"user":"gus","doors":["front"]}"#, as: "gus")
                #expect(steal.status == .unprocessableContent && steal.field == "doors", "\(steal.body)")
                let device = try await api.post("/v1/devices", #"{"id":"evil","door":"front"}"#, as: "gus")
                #expect(device.status == .unprocessableContent && device.field == "door")
                let enroll = try await api.post("/v1/enrollment-tokens", #"{"site":"hq"}"#, as: "gus")
                #expect(enroll.status == .unprocessableContent && enroll.field == "site")
            }
            // Nothing of acme's changed.
            #expect(await fx.sql("SELECT name FROM sites WHERE org_id = 'acme' AND id = 'hq'") == "HQ")
            #expect(await fx.sql("SELECT name FROM users WHERE org_id = 'acme' AND id = 'ada'") == "Ada")
            // Only acme's own support-bundle request above sent a command; globex's attempts sent and stored none.
            #expect(await fx.sql("SELECT count(*) FROM commands") == "1")
            #expect(await fx.sql("SELECT count(*) FROM support_bundles") == "1")
            #expect(await fx.sql("SELECT count(*) FROM invitations") == "0")
            #expect(await fx.sql("SELECT count(*) FROM keys WHERE status = 'revoked'") == "0")
            #expect(await fx.sql("SELECT count(*) FROM api_tokens WHERE revoked_at IS NOT NULL") == "0")
            #expect(await fx.sql("SELECT count(*) FROM devices WHERE decommissioned_at IS NOT NULL") == "0")
            #expect(await fx.sql("SELECT doors FROM door_groups WHERE org_id = 'acme'") == "{front}")
            #expect(await fx.sql("SELECT count(*) FROM devices WHERE id = 'evil'") == "0")
            #expect(await fx.sql("SELECT count(*) FROM webhooks WHERE org_id = 'acme'") == "1")
            #expect(await fx.sql("SELECT count(*) FROM webhook_deliveries") == "0")
            #expect(await fx.sql("SELECT name FROM lockdown_plans WHERE org_id = 'acme'") == "East wing")
        }
    }
}
