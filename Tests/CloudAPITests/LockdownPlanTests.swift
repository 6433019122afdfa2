import Foundation
import HTTPTypes
import Testing
import WardenCloud

extension CloudAPISuite {
    /// A site's lockdown plans: saved with the site's doors only, triggered with one call that signs a lockdown
    /// command for each active board of the plan's doors (and lifts it the same way), within the roles' limits.
    @Suite struct LockdownPlanTests {
        @Test func aPlanLocksDownItsDoorsInOneCall() async throws {
            let fx = try await APIFixture()
            // A second door on hq with a board, so a plan's subset is visible.
            try await fx.runtime.operations.createDoor(org: "acme", site: "hq", id: "back", name: "Back door")
            try await fx.runtime.operations.registerDevice(org: "acme", door: "back", id: "board-back")
            try await fx.run { api in
                let east = try await api.call(
                    .put,
                    "/v1/sites/hq/lockdown-plans/east",
                    json: #"{"name":"East wing","doors":["front"]}"#
                )
                #expect(east.status == .ok, "\(east.body)")
                #expect(east.object["doors"] as? [String] == ["front"] && east.object["site"] as? String == "hq")
                let whole = try await api.call(.put, "/v1/sites/hq/lockdown-plans/all", json: #"{"name":"All of HQ"}"#)
                #expect(whole.object["doors"] as? [String] == [])
                #expect(try await api.get("/v1/sites/hq/lockdown-plans").ids == ["all", "east"])

                // Bad input names the field and stores nothing.
                for (body, field) in [
                    (#"{"name":"Lab","doors":["lab-door"]}"#, "doors[0]"),
                    (#"{"name":"x","doors":["front","front"]}"#, "doors"),
                    (#"{"name":" "}"#, "name"), (#"{"name":"x","doors":["Front!"]}"#, "doors[0]"),
                ] {
                    let bad = try await api.call(.put, "/v1/sites/hq/lockdown-plans/bad", json: body)
                    #expect(bad.status == .unprocessableContent && bad.field == field, "\(body): \(bad.body)")
                }
                #expect(await fx.sql("SELECT count(*) FROM lockdown_plans") == "2")

                // One call: a signed lockdown for each board of the plan's doors, and lifted the same way.
                let on = try await api.post("/v1/sites/hq/lockdown-plans/east/trigger", #"{"on":true}"#)
                #expect(on.status == .ok, "\(on.body)")
                let sent = (on.object["commands"] as? [[String: Any]]) ?? []
                #expect(sent.compactMap { $0["device"] as? String } == ["board-front"])
                #expect(sent.allSatisfy { $0["command"] as? String == "lockdown" })
                let everywhere = try await api.post("/v1/sites/hq/lockdown-plans/all/trigger", #"{"on":true}"#)
                #expect(
                    ((everywhere.object["commands"] as? [[String: Any]]) ?? []).compactMap { $0["device"] as? String }
                        == ["board-back", "board-front"]
                )
                #expect(try await api.post("/v1/sites/hq/lockdown-plans/east/trigger", #"{"on":false}"#).status == .ok)
                #expect(
                    await fx.sql("SELECT count(*) FROM commands WHERE cmd = 'lockdown' AND device_id = 'board-front'")
                        == "3"
                )

                // Roles: a site manager of hq may; not on another site; a viewer may read, not trigger.
                #expect(
                    try await api.post("/v1/sites/hq/lockdown-plans/east/trigger", #"{"on":true}"#, as: "max").status
                        == .ok
                )
                #expect(try await api.get("/v1/sites/lab/lockdown-plans", as: "max").status == .notFound)
                #expect(try await api.get("/v1/sites/hq/lockdown-plans", as: "vic").ids == ["all", "east"])
                #expect(
                    try await api.post("/v1/sites/hq/lockdown-plans/east/trigger", #"{"on":true}"#, as: "vic").status
                        == .forbidden
                )
                #expect(try await api.call(.delete, "/v1/sites/hq/lockdown-plans/east", as: "vic").status == .forbidden)
                #expect(
                    try await api.post("/v1/sites/hq/lockdown-plans/nope/trigger", #"{"on":true}"#).status == .notFound
                )
                #expect(try await api.post("/v1/sites/hq/lockdown-plans/east/trigger", #"{}"#).field == "on")

                #expect(try await api.call(.delete, "/v1/sites/hq/lockdown-plans/east").status == .noContent)
                #expect(
                    try await api.post("/v1/sites/hq/lockdown-plans/east/trigger", #"{"on":true}"#).status == .notFound
                )
            }
        }
    }
}
