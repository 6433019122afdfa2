import Foundation
import HTTPTypes
import Testing
import WardenCloud

extension CloudAPISuite {
    /// API tokens: shown once, stored only as a hash, scoped, last-used time kept, revocable by their owner at once.
    @Suite struct TokenTests {
        @Test func tokensAreShownOnceHashedAndRevocable() async throws {
            let fx = try await APIFixture()
            try await fx.run { api in
                let made = try await api.post("/v1/api-tokens", #"{"name":"ci pipeline","scope":"write"}"#)
                #expect(made.status == .created, "\(made.body)")
                let token = try #require(made.object["token"] as? String)
                let id = try #require(made.object["id"] as? String)
                #expect(token.hasPrefix("wdn_\(id)_") && made.object["scope"] as? String == "write")
                let listed = try await api.get("/v1/api-tokens")
                #expect(
                    listed.ids.contains(id) && !listed.body.contains(token)
                        && listed.items.allSatisfy { $0["token"] == nil }
                )
                let secret = String(token.dropFirst("wdn_\(id)_".count))
                #expect(
                    await fx.sql(
                        "SELECT count(*) FROM api_tokens WHERE encode(hash, 'hex') LIKE '%' || encode(convert_to('\(secret.prefix(12))', 'UTF8'), 'hex') || '%'"
                    ) == "0"
                )
                #expect(await fx.sql("SELECT length(hash) FROM api_tokens WHERE id = '\(id)'") == "32")
                #expect(await fx.sql("SELECT last_used_at IS NULL FROM api_tokens WHERE id = '\(id)'") == "t")
                #expect(try await api.call(.get, "/v1/doors", as: nil, token: token).status == .ok)
                #expect(await fx.sql("SELECT last_used_at IS NOT NULL FROM api_tokens WHERE id = '\(id)'") == "t")
                // One changed character is a different token.
                let last = token.last == "A" ? "B" : "A"
                #expect(
                    try await api.call(.get, "/v1/doors", as: nil, token: String(token.dropLast()) + last).status
                        == .unauthorized
                )
                // Others see only their own tokens; an admin sees all and may revoke any.
                #expect(try await api.get("/v1/api-tokens", as: "vic").ids.allSatisfy { !$0.isEmpty && $0 != id })
                #expect(try await api.call(.delete, "/v1/api-tokens/\(id)", as: "vic").status == .notFound)
                #expect(try await api.call(.delete, "/v1/api-tokens/\(id)", as: nil, token: token).status == .noContent)
                #expect(try await api.call(.get, "/v1/doors", as: nil, token: token).status == .unauthorized)
                let after = try await api.get("/v1/api-tokens")
                #expect(after.items.first { $0["id"] as? String == id }?["revoked_at"] != nil)
            }
        }
    }
}
