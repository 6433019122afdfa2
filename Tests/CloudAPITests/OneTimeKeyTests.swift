import Crypto
import Foundation
import HTTPTypes
import Testing
import WardenCloud

extension CloudAPISuite {
    /// A one-time key ends at its first use: a granted decision for one of its credentials, stored as the consumer
    /// stores a board's report, makes the sweep revoke it at its doors and drop it from the phone's next fetch.
    /// Denials, other keys' uses and a second sweep change nothing.
    @Suite struct OneTimeKeyTests {
        @Test func theFirstGrantedUseRevokesTheKeyAndNothingElseDoes() async throws {
            let fx = try await APIFixture()
            let service = OneTimeKeyService(operations: fx.runtime.operations, logger: fx.logger)
            try await fx.run { api in
                let once = try await api.post("/v1/keys", #"{"user":"holly","doors":["front"],"one_time":true}"#)
                let onceID = try #require(once.object["id"] as? String, "\(once.body)")
                #expect(once.object["one_time"] as? Bool == true)
                let usual = try await api.post("/v1/keys", #"{"user":"holly","doors":["front"]}"#)
                let usualID = try #require(usual.object["id"] as? String)
                let invitation = try await api.post("/v1/users/holly/invitations", #"{"valid_hours":24}"#)
                let secret = try #require(invitation.object["token"] as? String)
                let holder = P256.Signing.PrivateKey()
                let enrolled = try await api.post(
                    "/v1/phone/enroll",
                    #"{"invitation":"\#(secret)","public_key":\#(PhoneTests.jwk(holder.publicKey))}"#,
                    as: nil
                )
                let phone = try #require(enrolled.object["phone"] as? String, "\(enrolled.body)")
                let phoneToken = try #require(enrolled.object["phone_token"] as? String)

                var seq = 0
                func report(_ kind: String, credential: String) async {
                    seq += 1
                    _ = await fx.sql(
                        """
                        INSERT INTO audit_events (org_id, device_id, seq, at, at_ms, kind, door_id, credential_id, user_id,
                            prev_hash, hash)
                        VALUES ('acme', 'board-front', \(seq), now(), (extract(epoch FROM now()) * 1000)::bigint,
                            '\(kind)', 'front', '\(credential)', 'holly', '\\x00', '\\x00')
                        """
                    )
                }
                func status(_ key: String) async throws -> String? {
                    try await api.get("/v1/keys/\(key)").object["status"] as? String
                }
                func entry(_ key: String) async -> String {
                    await fx.sql(
                        "SELECT status FROM access_entries WHERE door_id = 'front' AND credential_id = '\(key)-\(phone)'"
                    )
                }

                // Not uses of the one-time key: a denial of it, and the usual key's use.
                await report("access_denied", credential: "\(onceID)-\(phone)")
                await report("access_granted", credential: "\(usualID)-\(phone)")
                #expect(try await service.sweep() == [])
                #expect(try await status(onceID) == "active")
                #expect(try await status(usualID) == "active")
                #expect(await entry(onceID) == "active")

                // Its first use.
                await report("access_granted", credential: "\(onceID)-\(phone)")
                #expect(try await service.sweep() == [onceID])
                #expect(try await status(onceID) == "revoked")
                #expect(try await status(usualID) == "active")
                #expect(await entry(onceID) == "revoked", "the door's access list revokes it")
                #expect(await entry(usualID) == "active")
                let fetched = try await api.call(.get, "/v1/phone/credentials", as: nil, token: phoneToken)
                #expect(
                    (fetched.object["credentials"] as? [[String: Any]])?.compactMap { $0["key"] as? String }
                        == [usualID],
                    "the phone's next fetch drops it"
                )
                // A second sweep (or another instance's) finds nothing more to do.
                #expect(try await service.sweep() == [])
            }
        }
    }
}
