import Crypto
import Foundation
import Testing
import WardenAuthority
import WardenCore
import WardenStore
import WardenWire

@Suite struct AccessListTests {
    let dir = TempDir()
    let issuer = CredentialIssuer(keyID: "k1", privateKey: P256.Signing.PrivateKey())
    let scope = DoorScope(doorID: "front", groups: ["lobby"])

    func update(
        ver: Int64,
        base: Int64?,
        snapshot: Bool = false,
        grant: [String] = [],
        revoke: [String] = [],
        doors: [String] = ["front"]
    ) async throws -> AccessListUpdate {
        let token = try await issuer.sign(
            AccessListUpdate(
                issuer: "org",
                doors: doors,
                version: ver,
                base: base,
                snapshot: snapshot,
                grant: grant.map { .init(id: $0, user: "u-\($0)") },
                revoke: revoke.map { .init(id: $0, user: "u-\($0)") },
                issuedAt: Date()
            )
        )
        return try AccessListUpdate.verified(token, authority: issuer.publicKeySet)
    }

    @Test func deltasApplyInOrderAndGapsAreRefused() async throws {
        let db = try WardenDatabase(path: dir.path("w.sqlite"))
        try db.apply(try await update(ver: 1, base: nil, snapshot: true, grant: ["a", "b"]), scope: scope)
        try db.apply(try await update(ver: 2, base: 1, revoke: ["b"]), scope: scope)
        #expect(try db.listStatus(credentialID: "a") == .active)
        #expect(try db.listStatus(credentialID: "b") == .revoked)
        #expect(try db.listStatus(credentialID: "zzz") == .unlisted)
        #expect(try db.accessListVersion() == 2)
        do {
            try db.apply(try await update(ver: 5, base: 4, revoke: ["a"]), scope: scope)
            Issue.record("gap accepted")
        } catch { #expect((error as? StoreError)?.code == .versionGap) }
        #expect(try db.listStatus(credentialID: "a") == .active, "a refused delta changes nothing")
        do {
            try db.apply(try await update(ver: 3, base: 2, revoke: ["a"], doors: ["vault"]), scope: scope)
            Issue.record("update for another door accepted")
        } catch { #expect((error as? StoreError)?.code == .wrongDoor) }
        try db.apply(try await update(ver: 9, base: nil, snapshot: true, grant: ["c"]), scope: scope)
        #expect(try db.listStatus(credentialID: "a") == .unlisted)
        #expect(try db.accessListVersion() == 9)
    }

    /// The in-memory index (decision path) says what the store says, after a snapshot and after deltas that grant,
    /// revoke, re-grant and repeat ids, using the change list `apply` returns (as DoorController does).
    @Test func inMemoryIndexAgreesWithTheStore() async throws {
        let db = try WardenDatabase(path: dir.path("i.sqlite"))
        #expect(try db.accessListIndex().status(of: "a") == .unlisted)
        #expect(
            try db.apply(
                try await update(ver: 1, base: nil, snapshot: true, grant: ["a", "b", "c"], revoke: ["r"]),
                scope: scope
            ) == .replaced
        )
        var index = try db.accessListIndex()
        let ids = ["a", "b", "c", "d", "r", "caf\u{E9}", "cafe\u{301}", "zzz"]
        func check() throws {
            let fresh = try db.accessListIndex()
            for id in ids {
                let stored = try db.listStatus(credentialID: id)
                #expect(index.status(of: id) == stored, "\(id)")
                #expect(fresh.status(of: id) == stored, "\(id)")
            }
        }
        try check()
        let deltas: [(grant: [String], revoke: [String])] = [
            (["d"], ["a"]), (["a", "a"], ["b", "d"]), (["r", "caf\u{E9}"], ["r"]), (["b"], []),
            ([], ["cafe\u{301}", "c"]),
        ]
        for (i, d) in deltas.enumerated() {
            let change = try db.apply(
                try await update(ver: Int64(i + 2), base: Int64(i + 1), grant: d.grant, revoke: d.revoke),
                scope: scope
            )
            guard case .changed(let changes) = change else {
                Issue.record("a delta reported \(change)")
                return
            }
            index.apply(changes)
            try check()
        }
        #expect(index.status(of: "caf\u{E9}") == .active)
        #expect(index.status(of: "cafe\u{301}") == .revoked)
    }

    @Test func forgedUpdateIsRefused() async throws {
        let forger = CredentialIssuer(keyID: "k1", privateKey: P256.Signing.PrivateKey())
        let token = try await forger.sign(
            AccessListUpdate(
                issuer: "org",
                doors: ["front"],
                version: 1,
                base: 0,
                snapshot: false,
                grant: [],
                revoke: [],
                issuedAt: Date()
            )
        )
        do {
            _ = try AccessListUpdate.verified(token, authority: issuer.publicKeySet)
            Issue.record("forged update accepted")
        } catch { #expect(error.code == .badSignature) }
    }

    @Test func databaseFileIsPrivate() throws {
        _ = try WardenDatabase(path: dir.path("p.sqlite"))
        let attrs = try FileManager.default.attributesOfItem(atPath: dir.path("p.sqlite"))
        #expect((attrs[.posixPermissions] as? Int) == 0o600)
    }
}
