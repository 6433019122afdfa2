import Foundation
import HTTPTypes
import Testing
import WardenCloud

extension CloudAPISuite {
    /// Each resource through its life as an org admin drives it: create, read, change, list with filters, end.
    @Suite struct ResourceTests {
        @Test func sitesDoorsGroupsDevicesAndCommands() async throws {
            let fx = try await APIFixture()
            try await fx.run { api in
                #expect(try await api.get("/v1/org").object["name"] as? String == "Acme")
                let site = try await api.post(
                    "/v1/sites",
                    #"{"id":"annex","name":"Annex","time_zone":"Asia/Tokyo","holidays":["2026-12-25","2027-01-01"]}"#
                )
                #expect(site.status == .created, "\(site.body)")
                #expect(site.object["time_zone"] as? String == "Asia/Tokyo")
                #expect(site.object["holidays"] as? [String] == ["2026-12-25", "2027-01-01"])
                let again = try await api.post("/v1/sites", #"{"id":"annex","name":"Annex","time_zone":"UTC"}"#)
                #expect(again.status == .conflict && again.field == "id")
                let renamed = try await api.call(
                    .patch,
                    "/v1/sites/annex",
                    json: #"{"name":"Annex East","holidays":[]}"#
                )
                #expect(
                    renamed.object["name"] as? String == "Annex East" && renamed.object["holidays"] as? [String] == []
                )
                #expect(renamed.object["time_zone"] as? String == "Asia/Tokyo", "an absent field keeps its value")

                let door = try await api.post("/v1/doors", #"{"id":"annex-1","site":"annex","name":"Annex entrance"}"#)
                #expect(door.status == .created, "\(door.body)")
                #expect(door.object["state"] as? String == "unknown" && door.object["access_version"] as? Int == 1)
                #expect(try await api.get("/v1/doors?site=annex").ids == ["annex-1"])
                // Boards report state: the door reads as its board says, offline when none is up.
                _ = await fx.sql(
                    #"UPDATE devices SET online = true, state = '{"relayUnlocked":true,"doorClosed":true,"lockdown":false}' WHERE id = 'board-front'"#
                )
                #expect(try await api.get("/v1/doors/front").object["state"] as? String == "unlocked")
                #expect(try await api.get("/v1/doors/lab-door").object["state"] as? String == "offline")

                let group = try await api.call(
                    .put,
                    "/v1/door-groups/annex-all",
                    json: #"{"id":"annex-all","name":"Annex and front","doors":["annex-1","front"]}"#
                )
                #expect(
                    group.status == .ok && group.object["doors"] as? [String] == ["annex-1", "front"],
                    "\(group.body)"
                )
                #expect(try await api.get("/v1/door-groups").ids == ["annex-all"])

                let device = try await api.post("/v1/devices", #"{"id":"board-annex","door":"annex-1"}"#)
                #expect(device.status == .created && device.object["door_version"] as? Int == 1, "\(device.body)")
                #expect(try await api.get("/v1/devices?door=annex-1").ids == ["board-annex"])
                let gone = try await api.post("/v1/devices/board-annex/decommission")
                #expect(gone.object["state"] as? String == "decommissioned" && gone.object["decommissioned_at"] != nil)

                let unlock = try await api.post("/v1/doors/front/unlock", #"{"millis":3000}"#)
                let sent = try #require((unlock.object["commands"] as? [[String: Any]])?.first)
                #expect(sent["device"] as? String == "board-front" && sent["command"] as? String == "unlock")
                #expect(
                    await fx.sql("SELECT cmd FROM commands WHERE jti = '\(sent["id"] as? String ?? "")'") == "unlock"
                )
                // A decommissioned board gets no commands; a site lockdown reaches every other board of the site.
                let lockdown = try await api.post("/v1/sites/annex/lockdown", #"{"on":true}"#)
                #expect((lockdown.object["commands"] as? [Any])?.count == 0, "\(lockdown.body)")
                let hq = try await api.post("/v1/sites/hq/lockdown", #"{"on":true}"#)
                #expect((hq.object["commands"] as? [[String: Any]])?.map { $0["device"] as? String } == ["board-front"])

                let enrollment = try await api.post(
                    "/v1/enrollment-tokens",
                    #"{"site":"hq","door":"front","valid_minutes":30}"#
                )
                #expect(enrollment.status == .created, "\(enrollment.body)")
                let secret = try #require(enrollment.object["token"] as? String)
                let listed = try await api.get("/v1/enrollment-tokens")
                #expect(listed.items.count == 1 && listed.items[0]["token"] == nil, "shown once")
                #expect(
                    await fx.sql(
                        "SELECT count(*) FROM enrollment_tokens WHERE encode(hash, 'escape') LIKE '%\(secret.prefix(10))%'"
                    ) == "0"
                )
                let wrongDoor = try await api.post("/v1/enrollment-tokens", #"{"site":"annex","door":"front"}"#)
                #expect(wrongDoor.status == .unprocessableContent && wrongDoor.field == "door")
            }
        }

        @Test func usersKeysSchedulesAndRevocation() async throws {
            let fx = try await APIFixture()
            try await fx.run { api in
                let user = try await api.post("/v1/users", #"{"email":"Rita@acme.example","name":"Rita Ruiz"}"#)
                #expect(user.status == .created && user.object["role"] as? String == "holder", "\(user.body)")
                let rita = try #require(user.object["id"] as? String)
                let dup = try await api.post("/v1/users", #"{"email":"rita@ACME.example","name":"Other"}"#)
                #expect(dup.status == .conflict && dup.field == "email", "emails are unique whatever their case")
                _ = try await api.call(
                    .put,
                    "/v1/door-groups/all",
                    json: #"{"id":"all","name":"All","doors":["front","lab-door"]}"#
                )
                let key = try await api.post(
                    "/v1/keys",
                    """
                    {"user":"\(rita)","groups":["all"],"valid_until":"2030-01-01T00:00:00.5Z","extended_time":true,
                     "schedule":[{"days":["mon","tue"],"start":"08:00","end":"18:00"}]}
                    """
                )
                #expect(key.status == .created, "\(key.body)")
                let id = try #require(key.object["id"] as? String)
                #expect(key.object["valid_until"] as? String == "2030-01-01T00:00:00.500Z")
                #expect((key.object["schedule"] as? [[String: Any]])?.first?["start"] as? String == "08:00")
                #expect(key.object["extended_time"] as? Bool == true && key.object["status"] as? String == "active")
                #expect(try await api.get("/v1/keys?user=\(rita)").ids == [id])
                #expect(try await api.get("/v1/keys?door=lab-door").ids == [id], "a group's doors count")
                #expect(try await api.get("/v1/keys?status=revoked").ids == [])
                let revoked = try await api.post("/v1/keys/\(id)/revoke")
                #expect(revoked.object["status"] as? String == "revoked" && revoked.object["revoked_at"] != nil)
                #expect(try await api.get("/v1/keys?status=revoked").ids == [id])
                #expect(try await api.post("/v1/keys/\(id)/revoke").status == .ok, "revoking twice is harmless")

                let manager = try await api.post(
                    "/v1/users",
                    #"{"id":"sam","email":"sam@acme.example","name":"Sam","role":"site_manager","sites":["lab"],"password":"correct horse battery"}"#
                )
                #expect(
                    manager.status == .created && manager.object["sites"] as? [String] == ["lab"],
                    "\(manager.body)"
                )
                let hash = await fx.sql("SELECT password_hash FROM users WHERE id = 'sam'")
                #expect(hash.hasPrefix("scrypt$15$8$1$") && !hash.contains("correct horse"))
                #expect(Secrets.verifyPassword("correct horse battery", against: hash))
                #expect(!Secrets.verifyPassword("correct horse batterY", against: hash))
                let noSites = try await api.call(.patch, "/v1/users/sam", json: #"{"sites":[]}"#)
                #expect(noSites.status == .unprocessableContent && noSites.field == "sites")
                let selfDemote = try await api.call(.patch, "/v1/users/ada", json: #"{"role":"viewer"}"#)
                #expect(selfDemote.status == .conflict)
                #expect(try await api.get("/v1/users?role=site_manager").ids == ["max", "sam"])

                let visitor = try await api.post(
                    "/v1/visitors",
                    """
                    {"name":"Plumber","email":"fix@pipes.example","doors":["front"],"one_time":true,
                     "valid_until":"\(APIFixtureTime.inDays(2))"}
                    """
                )
                #expect(visitor.status == .created, "\(visitor.body)")
                let vkey = try #require(visitor.object["key"] as? [String: Any])
                #expect(vkey["one_time"] as? Bool == true)
                #expect(
                    ((visitor.object["invitation"] as? [String: Any])?["token"] as? String)?.hasPrefix("winv_") == true
                )
                let tooLong = try await api.post(
                    "/v1/visitors",
                    #"{"name":"Long","email":"long@x.example","doors":["front"],"valid_until":"\#(APIFixtureTime.inDays(60))"}"#
                )
                #expect(tooLong.status == .unprocessableContent && tooLong.field == "valid_until")
                #expect(await fx.sql("SELECT count(*) FROM users WHERE email = 'long@x.example'") == "0")
            }
        }
    }

    enum APIFixtureTime {
        static func inDays(_ days: Double) -> String {
            Date().addingTimeInterval(days * 86_400).formatted(.iso8601)
        }
    }

    /// The event stream: the caller's doors first, then a door whose board reports a new state.
    @Suite struct EventStreamTests {
        @Test func doorsThenChangesForTheCallersDoorsOnly() async throws {
            let fx = try await APIFixture()
            try await fx.run { api in
                let flip = Task {
                    try await Task.sleep(for: .milliseconds(1200))
                    _ = await fx.sql(
                        #"UPDATE devices SET online = true, state = '{"relayUnlocked":true}' WHERE id = 'board-front'"#
                    )
                }
                let stream = try await api.get("/v1/events?seconds=3", as: "max")
                try await flip.value
                #expect(stream.status == .ok && stream.headers[.contentType] == "text/event-stream")
                let events = stream.body.components(separatedBy: "\n\n").filter { $0.hasPrefix("event: door") }
                #expect(events.count == 2, "the door at the start, then its change: \(stream.body)")
                #expect(
                    events.first?.contains(#""id":"front""#) == true
                        && events.first?.contains(#""state":"unknown""#) == false
                )
                #expect(events.last?.contains(#""state":"unlocked""#) == true, "\(stream.body)")
                #expect(!stream.body.contains("lab-door"), "a site manager's stream has their doors only")
                #expect(try await api.get("/v1/events?seconds=0").field == "seconds")
            }
        }
    }
}
