import Foundation
import HTTPTypes
import Testing
import WardenCloud

extension CloudAPISuite {
    /// Bad input answers a 4xx problem naming the field, and a refused request writes nothing.
    @Suite struct InputTests {
        @Test func badBodiesNameTheFieldAndChangeNothing() async throws {
            let fx = try await APIFixture()
            let before = await fx.sql(
                "SELECT (SELECT count(*) FROM sites), (SELECT count(*) FROM doors), (SELECT count(*) FROM users), (SELECT count(*) FROM keys), (SELECT count(*) FROM door_groups)"
            )
            try await fx.run { api in
                let cases: [(String, String, String, HTTPResponse.Status, String)] = [
                    ("/v1/sites", "{}", "id", .unprocessableContent, "is required"),
                    (
                        "/v1/sites", #"{"id":"Bad_ID","name":"x","time_zone":"UTC"}"#, "id", .unprocessableContent,
                        "not an id"
                    ),
                    (
                        "/v1/sites", #"{"id":"s","name":"x","time_zone":"Mars/Olympus"}"#, "time_zone",
                        .unprocessableContent, "IANA"
                    ),
                    (
                        "/v1/sites", #"{"id":"s","name":"x","time_zone":"UTC","holidays":["2026-02-30"]}"#,
                        "holidays[0]",
                        .unprocessableContent, "YYYY-MM-DD"
                    ),
                    ("/v1/sites", #"{"id":"s","name":"","time_zone":"UTC"}"#, "name", .unprocessableContent, "empty"),
                    (
                        "/v1/sites", #"{"id":"s","name":"bell\u0007","time_zone":"UTC"}"#, "name",
                        .unprocessableContent,
                        "control"
                    ),
                    (
                        "/v1/sites", #"{"id":"s","name":42,"time_zone":"UTC"}"#, "name", .unprocessableContent,
                        "must be a string"
                    ),
                    (
                        "/v1/sites", #"{"id":"s","name":null,"time_zone":"UTC"}"#, "name", .unprocessableContent,
                        "not null"
                    ),
                    ("/v1/doors", #"{"id":"d","site":"nowhere","name":"D"}"#, "site", .unprocessableContent, "no site"),
                    (
                        "/v1/keys", #"{"user":"holly","doors":["front"],"valid_until":"next tuesday"}"#, "valid_until",
                        .unprocessableContent, "RFC 3339"
                    ),
                    (
                        "/v1/keys",
                        #"{"user":"holly","doors":["front"],"valid_from":"2029-01-01T00:00:00Z","valid_until":"2028-01-01T00:00:00Z"}"#,
                        "valid_until", .unprocessableContent, "after valid_from"
                    ),
                    (
                        "/v1/keys", #"{"user":"holly","doors":["front"],"valid_until":"2001-01-01T00:00:00Z"}"#,
                        "valid_until", .unprocessableContent, "future"
                    ),
                    ("/v1/keys", #"{"user":"holly","doors":[]}"#, "doors", .unprocessableContent, "at least one"),
                    (
                        "/v1/keys", #"{"user":"holly","doors":["front","front"]}"#, "doors", .unprocessableContent,
                        "twice"
                    ),
                    (
                        "/v1/keys",
                        #"{"user":"holly","doors":["front"],"schedule":[{"days":["mon"],"start":"25:00","end":"18:00"}]}"#,
                        "schedule[0].start", .unprocessableContent, "time of day"
                    ),
                    (
                        "/v1/keys",
                        #"{"user":"holly","doors":["front"],"schedule":[{"days":["someday"],"start":"08:00","end":"18:00"}]}"#,
                        "schedule[0].days[0]", .unprocessableContent, "someday"
                    ),
                    (
                        "/v1/keys", #"{"user":"holly","groups":["nope"]}"#, "groups", .unprocessableContent,
                        "no door group"
                    ),
                    ("/v1/users", #"{"email":"not-an-address","name":"N"}"#, "email", .unprocessableContent, "email"),
                    (
                        "/v1/users", #"{"email":"p@acme.example","name":"P","role":"overlord"}"#, "role",
                        .unprocessableContent, "one of"
                    ),
                    (
                        "/v1/users", #"{"email":"p@acme.example","name":"P","password":"short"}"#, "password",
                        .unprocessableContent, "12"
                    ),
                    ("/v1/doors/front/unlock", #"{"millis":5}"#, "millis", .unprocessableContent, "500"),
                    (
                        "/v1/users/holly/invitations", #"{"valid_hours":0}"#, "valid_hours", .unprocessableContent,
                        "1 to 720"
                    ),
                    ("/v1/sites", #"{"id":"s""#, "body", .badRequest, "JSON"),
                ]
                for (path, body, field, status, words) in cases {
                    let a = try await api.post(path, body)
                    #expect(a.status == status, "\(path) \(body): \(a.status) \(a.body)")
                    #expect(a.field == field, "\(path) \(body): field \(a.field ?? "none"), \(a.body)")
                    #expect(a.body.contains(words), "\(path) \(body): \(a.body)")
                    #expect(a.headers[.contentType] == "application/problem+json")
                }
                let group = try await api.call(
                    .put,
                    "/v1/door-groups/g",
                    json: #"{"id":"other","name":"G","doors":[]}"#
                )
                #expect(group.status == .unprocessableContent && group.field == "id")
                let big = try await api.post(
                    "/v1/sites",
                    #"{"id":"s","name":"\#(String(repeating: "x", count: 70_000))","time_zone":"UTC"}"#
                )
                #expect(big.status == .contentTooLarge, "\(big.status)")
                let text = try await api.call(.post, "/v1/sites", json: "id=s", headers: [.contentType: "text/plain"])
                #expect(text.status == .unsupportedMediaType)
                for query in [
                    "limit=0", "limit=1001", "limit=ten", "result=maybe", "since=yesterday", "cursor=%21%21",
                    "door=Front",
                ] {
                    let a = try await api.get("/v1/audit?\(query)")
                    #expect(a.status == .unprocessableContent, "\(query): \(a.status) \(a.body)")
                    #expect(a.field == query.split(separator: "=")[0].description, "\(query): \(a.body)")
                }
                #expect(try await api.get("/v1/keys?status=lost").field == "status")
                #expect(try await api.get("/v1/doors/UPPER").status == .notFound, "a malformed id is simply not found")
            }
            let after = await fx.sql(
                "SELECT (SELECT count(*) FROM sites), (SELECT count(*) FROM doors), (SELECT count(*) FROM users), (SELECT count(*) FROM keys), (SELECT count(*) FROM door_groups)"
            )
            #expect(before == after, "nothing written by a refused request")
        }
    }
}
