import Foundation
import HTTPTypes
import Testing
import WardenCloud

extension CloudAPISuite {
    /// The audit trail: newest first, filtered by door, user, result and time, paged by an opaque cursor that neither
    /// repeats nor skips an event, exported as CSV; a site manager reads only their doors.
    @Suite struct AuditAPITests {
        @Test func filtersCursorPagesAndCSV() async throws {
            let fx = try await APIFixture()
            // 250 events at the front door (granted and denied in turn), 20 at the lab; some share a millisecond.
            let out = await fx.sql(
                """
                INSERT INTO audit_events (org_id, device_id, seq, at, at_ms, kind, door_id, user_id, reason, detail, prev_hash, hash)
                SELECT 'acme', 'board-front', i, timestamptz 'epoch' + (1800000000000 + (i / 2) * 1000) * interval '1 millisecond',
                    1800000000000 + (i / 2) * 1000, CASE WHEN i % 2 = 0 THEN 'access_granted' ELSE 'access_denied' END, 'front',
                    CASE WHEN i % 5 = 0 THEN 'holly' ELSE 'ada' END, CASE WHEN i % 2 = 1 THEN 'revoked' END,
                    CASE WHEN i = 7 THEN '=HYPERLINK("http://evil")' WHEN i = 8 THEN 'comma, "quote"' END, '\\x00', '\\x00'
                FROM generate_series(1, 250) AS i;
                INSERT INTO audit_events (org_id, device_id, seq, at, at_ms, kind, door_id, prev_hash, hash)
                SELECT 'acme', 'board-lab', i, timestamptz 'epoch' + (1800000000000 + i * 7000) * interval '1 millisecond',
                    1800000000000 + i * 7000, 'alarm', 'lab-door', '\\x00', '\\x00' FROM generate_series(1, 20) AS i;
                INSERT INTO audit_events (org_id, device_id, seq, at, at_ms, kind, door_id, prev_hash, hash)
                VALUES ('globex', 'board-g', 1, now(), 0, 'access_granted', 'g-door', '\\x00', '\\x00');
                SELECT count(*) FROM audit_events;
                """
            )
            #expect(out.hasSuffix("271"), "\(out)")
            try await fx.run { api in
                var seen: [String] = []
                var cursor: String?
                var pages = 0
                repeat {
                    let a = try await api.get("/v1/audit?limit=100" + (cursor.map { "&cursor=\($0)" } ?? ""))
                    #expect(a.status == .ok, "\(a.body)")
                    let events = a.object["events"] as? [[String: Any]] ?? []
                    seen += events.map { "\($0["device"]!)/\($0["seq"]!)" }
                    let times = events.compactMap { $0["at"] as? String }
                    #expect(times == times.sorted(by: >), "newest first")
                    cursor = a.object["next_cursor"] as? String
                    pages += 1
                } while cursor != nil && pages < 10
                #expect(
                    pages == 3 && seen.count == 270 && Set(seen).count == 270,
                    "\(pages) pages, \(seen.count) events"
                )

                let granted = try await api.get("/v1/audit?door=front&result=granted&limit=1000")
                let events = granted.object["events"] as? [[String: Any]] ?? []
                #expect(events.count == 125 && events.allSatisfy { $0["result"] as? String == "granted" })
                let hollys = try await api.get("/v1/audit?user=holly&limit=1000")
                #expect((hollys.object["events"] as? [Any])?.count == 50)
                let window = try await api.get(
                    "/v1/audit?since=2027-01-15T08:00:10Z&until=2027-01-15T08:00:20Z&door=front&limit=1000"
                )
                #expect((window.object["events"] as? [Any])?.count == 20, "\(window.body)")
                let alarms = try await api.get("/v1/audit?result=alarm")
                #expect((alarms.object["events"] as? [Any])?.count == 20)

                let managers = try await api.get("/v1/audit?limit=1000", as: "max")
                let theirs = managers.object["events"] as? [[String: Any]] ?? []
                #expect(theirs.count == 250 && theirs.allSatisfy { $0["door"] as? String == "front" })
                #expect(try await api.get("/v1/audit?door=lab-door", as: "max").status == .notFound)

                let csv = try await api.get("/v1/audit/export?door=front")
                #expect(csv.status == .ok && csv.headers[.contentType] == "text/csv; charset=utf-8")
                let lines = csv.body.split(separator: "\r\n", omittingEmptySubsequences: true)
                #expect(
                    lines.count == 251
                        && lines[0]
                            == "time,device,seq,kind,result,door,user,credential,reason,detail,user_name,door_name"
                )
                #expect(lines.dropFirst().allSatisfy { $0.hasSuffix(",Front door") }, "the door's name in every row")
                #expect(
                    lines.dropFirst().filter { $0.hasSuffix(",Holly,Front door") }.count == 50
                        && lines.dropFirst().filter { $0.hasSuffix(",Ada,Front door") }.count == 200,
                    "each person's name beside their id"
                )
                #expect(csv.body.contains(#""'=HYPERLINK(""http://evil"")""#), "a formula is defused and quoted")
                #expect(csv.body.contains(#""comma, ""quote""""#))
                #expect(try await api.get("/v1/audit/export", as: "gus").body.split(separator: "\r\n").count == 2)
            }
        }
    }
}
