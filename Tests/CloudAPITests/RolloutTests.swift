import Foundation
import HTTPTypes
import Testing
import WardenCloud

extension CloudAPISuite {
    /// Rollouts against real PostgreSQL: started by an org admin with every field checked, driven by
    /// `RolloutService` (which signs and sends the update orders) as the boards' reported state changes — the test
    /// writes that state as the consumer stores it from a board's `state` message.
    @Suite struct RolloutTests {
        @Test func aRolloutGoesWaveByWaveAndStopsAtAFailingWave() async throws {
            let fx = try await APIFixture()
            let service = RolloutService(operations: fx.runtime.operations, logger: fx.logger)
            @Sendable func report(
                _ device: String,
                rollout: String,
                _ status: String,
                version: String,
                detail: String = ""
            )
                async throws
            {
                let jti = await fx.sql(
                    "SELECT jti FROM rollout_devices WHERE rollout_id = '\(rollout)' AND device_id = '\(device)'"
                )
                #expect(!jti.isEmpty, "\(device) was ordered")
                _ = await fx.sql(
                    """
                    UPDATE devices SET state = '{"version":"\(version)","update":{"target":"x","status":"\(status)","version":"\(version)","detail":"\(detail)","jti":"\(jti)","at":0}}'::jsonb WHERE id = '\(device)'
                    """
                )
            }
            try await fx.run { api in
                // Every field is checked, roles are enforced, nothing is written on a refusal.
                for (body, field) in [
                    (#"{"version":"--reinstall"}"#, "version"),
                    (#"{"version":"2.0.0","channel":"nightly"}"#, "channel"),
                    (#"{"version":"2.0.0","waves":["0"]}"#, "waves[0]"), (#"{"version":"2.0.0","waves":[]}"#, "waves"),
                    (#"{"version":"2.0.0","devices":["nope"]}"#, "devices[0]"),
                    (#"{"version":"2.0.0","devices":["board-g"]}"#, "devices[0]"),
                    (#"{"version":"2.0.0","max_failures":-1}"#, "max_failures"),
                ] {
                    let bad = try await api.post("/v1/rollouts", body)
                    #expect(bad.status == .unprocessableContent && bad.field == field, "\(body): \(bad.body)")
                }
                for who in ["vic", "max", "ada-read"] {
                    #expect(try await api.post("/v1/rollouts", #"{"version":"2.0.0"}"#, as: who).status == .forbidden)
                }
                #expect(await fx.sql("SELECT count(*) FROM rollouts") == "0")

                // 2.0.0 to acme's two boards: one board, then the rest.
                let started = try await api.post("/v1/rollouts", #"{"version":"2.0.0","waves":["1","100%"]}"#)
                #expect(started.status == .created, "\(started.body)")
                let id = try #require(started.object["id"] as? String)
                let devices = (started.object["devices"] as? [[String: Any]]) ?? []
                #expect(devices.map { "\($0["device"]!)@\($0["wave"]!)" } == ["board-front@1", "board-lab@2"])
                #expect(started.object["state"] as? String == "running" && started.object["wave"] as? Int == 1)
                let overlap = try await api.post("/v1/rollouts", #"{"version":"2.1.0"}"#)
                #expect(overlap.status == .conflict && overlap.field == "devices", "\(overlap.body)")

                try await service.tick()
                #expect(await fx.sql("SELECT device_id FROM commands WHERE cmd = 'update'") == "board-front")
                #expect(await fx.sql("SELECT state FROM rollout_devices WHERE device_id = 'board-lab'") == "pending")
                try await service.tick()
                #expect(await fx.sql("SELECT count(*) FROM commands WHERE cmd = 'update'") == "1", "ordered once")

                try await report("board-front", rollout: id, "installed", version: "2.0.0")
                try await service.tick()
                let second = try await api.get("/v1/rollouts/\(id)")
                #expect(second.object["wave"] as? Int == 2)
                #expect(
                    await fx.sql("SELECT count(*) FROM commands WHERE cmd = 'update' AND device_id = 'board-lab'")
                        == "1"
                )
                try await report("board-lab", rollout: id, "installed", version: "2.0.0")
                try await service.tick()
                let done = try await api.get("/v1/rollouts/\(id)", as: "vic")
                #expect(done.object["state"] as? String == "completed", "\(done.body)")
                #expect(
                    ((done.object["devices"] as? [[String: Any]]) ?? []).allSatisfy {
                        $0["state"] as? String == "healthy"
                    }
                )

                // 3.0.0 fails its health check on the first board: the rollout stops at wave 1, board-lab untouched.
                let broken = try await api.post("/v1/rollouts", #"{"version":"3.0.0","waves":["1","100%"]}"#)
                let bid = try #require(broken.object["id"] as? String)
                try await service.tick()
                try await report(
                    "board-front",
                    rollout: bid,
                    "rolled_back",
                    version: "2.0.0",
                    detail: "3.0.0 is not healthy: wardend does not answer"
                )
                try await service.tick()
                let stopped = try await api.get("/v1/rollouts/\(bid)")
                #expect(stopped.object["state"] as? String == "stopped", "\(stopped.body)")
                let reason = stopped.object["reason"] as? String ?? ""
                #expect(reason.contains("wave 1: 1 of 1 boards failed") && reason.contains("3.0.0 is not healthy"))
                #expect(
                    await fx.sql("SELECT count(*) FROM commands WHERE cmd = 'update' AND device_id = 'board-lab'")
                        == "1"
                )

                // Abort: admins only; an aborted rollout orders nothing more. Another org sees none of it.
                let third = try await api.post("/v1/rollouts", #"{"version":"3.0.1"}"#)
                let tid = try #require(third.object["id"] as? String)
                #expect(try await api.post("/v1/rollouts/\(tid)/abort", as: "vic").status == .forbidden)
                let aborted = try await api.post("/v1/rollouts/\(tid)/abort")
                #expect(
                    aborted.object["state"] as? String == "aborted"
                        && aborted.object["reason"] as? String == "aborted by ada"
                )
                try await service.tick()
                #expect(
                    await fx.sql(
                        "SELECT count(*) FROM rollout_devices WHERE rollout_id = '\(tid)' AND state <> 'pending'"
                    ) == "0"
                )
                #expect(try await api.get("/v1/rollouts/\(id)", as: "gus").status == .notFound)
                #expect(try await api.post("/v1/rollouts/\(id)/abort", as: "gus").status == .notFound)
                #expect(try await api.get("/v1/rollouts", as: "gus").ids == [])
                #expect(try await api.get("/v1/rollouts").ids.count == 3)
            }
        }
    }
}
