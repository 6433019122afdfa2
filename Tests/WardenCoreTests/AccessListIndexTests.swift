import Testing
import WardenCore

@Suite struct AccessListIndexTests {
    @Test func statusOfActiveRevokedAndUnlisted() {
        let index = AccessListIndex(rows: [("a", .active), ("b", .revoked), ("c", .active)])
        #expect(index.status(of: "a") == .active)
        #expect(index.status(of: "b") == .revoked)
        #expect(index.status(of: "c") == .active)
        #expect(index.status(of: "d") == .unlisted)
        #expect(index.status(of: "") == .unlisted)
        #expect(index.activeCount == 2)
        #expect(index.revokedCount == 1)
    }

    /// Ids are compared as bytes, like SQLite: canonically equivalent spellings are different credentials.
    @Test func idsAreBytesNotCanonicalStrings() {
        let index = AccessListIndex(rows: [("caf\u{E9}", .revoked), ("x\u{E9}", .active)])
        #expect(index.status(of: "caf\u{E9}") == .revoked)
        #expect(index.status(of: "cafe\u{301}") == .unlisted)
        #expect(index.status(of: "xe\u{301}") == .unlisted)
    }

    @Test func changesMoveIdsBetweenStates() {
        var index = AccessListIndex(rows: [("a", .active), ("b", .active), ("r", .revoked)])
        index.apply([
            .init(id: "a", before: .active, after: .revoked),
            .init(id: "r", before: .revoked, after: .active),
            .init(id: "n", before: .unlisted, after: .active),
            .init(id: "b", before: .active, after: .active),
        ])
        #expect(index.status(of: "a") == .revoked)
        #expect(index.status(of: "r") == .active)
        #expect(index.status(of: "n") == .active)
        #expect(index.status(of: "b") == .active)
        #expect(index.activeCount == 3)
        #expect(index.revokedCount == 1)
    }

    /// Many random changes against a plain dictionary model.
    @Test func agreesWithAModelUnderRandomChanges() {
        var g = SeededGenerator(seed: 0x5EED_2026)
        var model: [String: AccessListStatus] = [:]
        var index = AccessListIndex()
        let ids = (0..<300).map { "cred-\($0)" }
        for _ in 0..<200 {
            var changes: [AccessListIndex.Change] = []
            for id in ids.shuffled(using: &g).prefix(Int.random(in: 0...40, using: &g)) {
                let after: AccessListStatus = Bool.random(using: &g) ? .active : .revoked
                changes.append(.init(id: id, before: model[id] ?? .unlisted, after: after))
                model[id] = after
            }
            index.apply(changes)
        }
        for id in ids + ["other"] { #expect(index.status(of: id) == model[id] ?? .unlisted, "\(id)") }
        #expect(index.activeCount == model.values.filter { $0 == .active }.count)
        #expect(index.revokedCount == model.values.filter { $0 == .revoked }.count)
        let rebuilt = AccessListIndex(rows: model.map { ($0.key, $0.value) })
        for id in ids { #expect(rebuilt.status(of: id) == index.status(of: id)) }
    }
}
