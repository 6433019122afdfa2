import Crypto
import Foundation
import HTTPTypes
import Testing
import WardenCloud
import WardenCore
import WardenWire

extension CloudAPISuite {
    /// A phone enrolls its holder key with a one-time invitation and gets credentials the board's own verifier
    /// accepts; they follow the user's keys (issued on enrollment, listed at the doors, revoked with the key).
    @Suite struct PhoneTests {
        static func jwk(_ key: P256.Signing.PublicKey) -> String {
            let raw = key.rawRepresentation
            return
                #"{"kty":"EC","crv":"P-256","x":"\#(Base64URL.encode(raw.prefix(32)))","y":"\#(Base64URL.encode(raw.suffix(32)))"}"#
        }

        @Test func enrollWithAnInvitationOnceAndFollowTheKeys() async throws {
            let fx = try await APIFixture()
            try await fx.run { api in
                let key = try await api.post(
                    "/v1/keys",
                    #"{"user":"holly","doors":["front"],"schedule":[{"days":["mon"],"start":"07:00","end":"19:00"}]}"#
                )
                let keyID = try #require(key.object["id"] as? String)
                let invitation = try await api.post("/v1/users/holly/invitations", #"{"valid_hours":24}"#)
                #expect(invitation.status == .created, "\(invitation.body)")
                let secret = try #require(invitation.object["token"] as? String)

                let holder = P256.Signing.PrivateKey()
                let body = #"{"invitation":"\#(secret)","public_key":\#(Self.jwk(holder.publicKey))}"#
                let enrolled = try await api.post("/v1/phone/enroll", body, as: nil)
                #expect(enrolled.status == .created, "\(enrolled.body)")
                let phone = try #require(enrolled.object["phone"] as? String)
                let phoneToken = try #require(enrolled.object["phone_token"] as? String)
                let bundle = try #require(enrolled.object["credentials"] as? [String: Any])
                let creds = try #require(bundle["credentials"] as? [[String: Any]])
                #expect(creds.count == 1 && creds[0]["key"] as? String == keyID)

                // The board's verifier, with the authority keys the answer carries.
                let pems = try #require(bundle["authority"] as? [String: String])
                let verifier = CredentialVerifier(authority: try AuthorityKeySet(pems: pems))
                let credential = try verifier.verify(try #require(creds[0]["credential"] as? String))
                #expect(credential.credentialID == "\(keyID)-\(phone)" && credential.userID == "holly")
                #expect(credential.doors == ["front"] && credential.schedule.windows.count == 1)
                #expect(credential.holderKey.rawRepresentation == holder.publicKey.rawRepresentation)
                #expect(
                    await fx.sql(
                        "SELECT status FROM access_entries WHERE door_id = 'front' AND credential_id = '\(keyID)-\(phone)'"
                    )
                        == "active"
                )

                // An invitation works once.
                let again = try await api.post("/v1/phone/enroll", body, as: nil)
                #expect(again.status == .unauthorized && again.field == "invitation", "\(again.body)")
                let badKey = try await api.post(
                    "/v1/phone/enroll",
                    #"{"invitation":"\#(secret)","public_key":{"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA"}}"#,
                    as: nil
                )
                #expect(badKey.status == .unprocessableContent && badKey.field == "public_key")

                // A new key reaches the phone at its next fetch; a revoked one leaves it and the door's list.
                let second = try await api.post("/v1/keys", #"{"user":"holly","doors":["lab-door"]}"#)
                let secondID = try #require(second.object["id"] as? String)
                #expect(
                    await fx.sql("SELECT status FROM access_entries WHERE credential_id = '\(secondID)-\(phone)'")
                        == "active"
                )
                let fetched = try await api.call(.get, "/v1/phone/credentials", as: nil, token: phoneToken)
                #expect(
                    ((fetched.object["credentials"] as? [[String: Any]])?.compactMap { $0["key"] as? String }).map(
                        Set.init
                    )
                        == [keyID, secondID]
                )
                _ = try await api.post("/v1/keys/\(keyID)/revoke")
                #expect(
                    await fx.sql("SELECT status FROM access_entries WHERE credential_id = '\(keyID)-\(phone)'")
                        == "revoked"
                )
                let afterRevoke = try await api.call(.get, "/v1/phone/credentials", as: nil, token: phoneToken)
                #expect(
                    (afterRevoke.object["credentials"] as? [[String: Any]])?.compactMap { $0["key"] as? String } == [
                        secondID
                    ]
                )
                #expect(
                    try await api.call(.get, "/v1/phone/credentials", as: nil, token: "nope").status == .unauthorized
                )
                // A phone token is not an API token, and an API token is not a phone token.
                #expect(try await api.call(.get, "/v1/doors", as: nil, token: phoneToken).status == .unauthorized)
                #expect(try await api.call(.get, "/v1/phone/credentials", as: "ada").status == .unauthorized)
            }
            #expect(await fx.sql("SELECT used_at IS NOT NULL FROM invitations") == "t")
        }
    }
}
