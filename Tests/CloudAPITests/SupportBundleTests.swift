import Crypto
import Foundation
import HTTPTypes
import Testing
import WardenWire

@testable import WardenCloud

extension CloudAPISuite {
    /// Support bundles against real PostgreSQL: an org admin asks a board; the signed command carries the upload URL
    /// and a one-time token (stored hashed); the upload takes one gzip archive per token before it expires; only
    /// the org's admins list and download, and another org's board or bundle is a 404.
    @Suite struct SupportBundleTests {
        @Test func aRequestedBundleIsUploadedOnceAndDownloadedByAdminsOnly() async throws {
            let fx = try await APIFixture()
            try await fx.run { api in
                let ask = "/v1/devices/board-front/support-bundles"
                for who in ["vic", "max", "ada-read"] {
                    #expect(try await api.post(ask, as: who).status == .forbidden, "\(who)")
                }
                #expect(try await api.post(ask, as: "gus").status == .notFound, "another org's board")
                #expect(try await api.post("/v1/devices/nope/support-bundles").status == .notFound)
                #expect(await fx.sql("SELECT count(*) FROM support_bundles") == "0", "nothing written on a refusal")

                let asked = try await api.post(ask)
                #expect(asked.status == .accepted, "\(asked.body)")
                let id = try #require(asked.object["id"] as? String)
                #expect(
                    asked.object["state"] as? String == "requested"
                        && asked.object["device"] as? String == "board-front"
                )
                let jti = try #require(asked.object["command"] as? String)
                // The command the board gets: signed, naming the upload URL and a one-time token.
                let jws = await fx.sql("SELECT jws FROM commands WHERE jti = '\(jti)' AND cmd = 'support_bundle'")
                let payload = try #require(jws.split(separator: ".").dropFirst().first.flatMap { Base64URL.decode($0) })
                let command = try JSONDecoder().decode(SignedCommand.self, from: Data(payload))
                #expect(command.dev == "board-front" && command.cmd == .supportBundle)
                #expect(command.url == "http://127.0.0.1:8080/v1/board/support-bundle")
                #expect(command.exp - command.iat == SignedCommand.maxLifetime(.supportBundle))
                let token = try #require(command.tok)
                #expect(token.hasPrefix("wsb_"))
                let hash = SHA256.hash(data: Data(token.utf8)).map { String(format: "%02x", $0) }.joined()
                #expect(await fx.sql("SELECT count(*) FROM support_bundles WHERE token_hash = '\\x\(hash)'") == "1")

                // Uploads: a wrong token, a body that is not gzip, then the archive; the token works once.
                let archive: [UInt8] = [0x1f, 0x8b, 0x08, 0x00] + Array(repeating: 0x41, count: 60)
                func upload(_ bytes: [UInt8], token: String) async throws -> APIClient.Answer {
                    try await api.call(
                        .post,
                        "/v1/board/support-bundle",
                        as: nil,
                        token: token,
                        headers: [.contentType: "application/gzip"],
                        bytes: bytes
                    )
                }
                #expect(
                    try await upload(archive, token: "wsb_" + String(repeating: "x", count: 43)).status == .unauthorized
                )
                #expect(
                    try await upload(archive, token: fx.tokens["ada"]!).status == .unauthorized,
                    "an API token uploads nothing"
                )
                #expect(
                    try await upload(Array("not gzip".utf8), token: "wsb_" + String(repeating: "y", count: 43)).status
                        == .unauthorized,
                    "who first: the body is judged only for a live token"
                )
                let notGzip = try await upload(Array("PRIVATE KEY".utf8) + Array(repeating: 0, count: 20), token: token)
                #expect(notGzip.status == .unprocessableContent && notGzip.field == "body", "\(notGzip.body)")
                #expect(try await api.get("/v1/support-bundles/\(id)").status == .conflict, "not uploaded yet")
                let stored = try await upload(archive, token: token)
                #expect(stored.status == .created, "\(stored.body)")
                #expect(
                    stored.object["state"] as? String == "uploaded" && stored.object["size"] as? Int == archive.count
                )
                #expect(try await upload(archive + [0], token: token).status == .unauthorized, "the token is used")

                let list = try await api.get(ask)
                #expect(
                    list.ids == [id]
                        && list.items.first?["sha256"] as? String
                            == SHA256.hash(data: archive)
                            .map { String(format: "%02x", $0) }.joined()
                )
                let download = try await api.get("/v1/support-bundles/\(id)")
                #expect(download.status == .ok && download.bytes == archive)
                #expect(download.headers[.contentType] == "application/gzip")
                #expect(try await api.get("/v1/support-bundles/\(id)", as: "gus").status == .notFound)
                #expect(try await api.get("/v1/support-bundles/\(id)", as: "vic").status == .forbidden)
                #expect(try await api.get(ask, as: "gus").status == .notFound)
                #expect(try await api.get(ask, as: "vic").status == .forbidden)

                // A request the board never answered in time: listed as expired, its token refused.
                let late = try await api.post(ask)
                let lateID = try #require(late.object["id"] as? String)
                let lateJWS = await fx.sql(
                    "SELECT jws FROM commands WHERE jti = '\(late.object["command"] as? String ?? "")'"
                )
                let latePayload = try #require(
                    lateJWS.split(separator: ".").dropFirst().first.flatMap { Base64URL.decode($0) }
                )
                let lateToken = try #require(try JSONDecoder().decode(SignedCommand.self, from: Data(latePayload)).tok)
                _ = await fx.sql(
                    "UPDATE support_bundles SET expires_at = now() - interval '1 second' WHERE id = '\(lateID)'"
                )
                #expect(try await upload(archive, token: lateToken).status == .unauthorized)
                let states = try await api.get(ask).items.map { "\($0["id"]!)=\($0["state"]!)" }
                #expect(Set(states) == ["\(id)=uploaded", "\(lateID)=expired"])
                // The devices page shows each board's newest bundle, one row per board.
                let manager = ManagerAPI(operations: fx.runtime.operations, logger: fx.logger)
                #expect(try await manager.newestBundles("acme").mapValues(\.id) == ["board-front": lateID])
                #expect(try await manager.newestBundles("globex").isEmpty, "another org's boards show none")

                // Retention: the daily sweep deletes what was requested before the cutoff, archive and request.
                _ = await fx.sql(
                    "UPDATE support_bundles SET requested_at = now() - interval '31 days' WHERE id = '\(id)'"
                )
                let cutoff = Date().addingTimeInterval(-30 * 86_400)
                #expect(try await fx.runtime.store.pruneSupportBundles(requestedBefore: cutoff) == 1)
                #expect(try await api.get("/v1/support-bundles/\(id)").status == .notFound)
                #expect(try await api.get(ask).ids == [lateID], "the recent request stays")
                #expect(try await fx.runtime.store.pruneSupportBundles(requestedBefore: cutoff) == 0)
            }
        }
    }
}
