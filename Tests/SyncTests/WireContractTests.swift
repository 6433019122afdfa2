import Foundation
import Testing
import WardenCloud
import WardenCore
import WardenWire

/// The contract's names and shapes (docs/mqtt.md): topics, payload decoding that names what was wrong, and
/// warden-cloud's configuration errors.
@Suite struct WireContractTests {
    @Test func topicsRoundTripAndRejectWhatIsNotContractV1() throws {
        let t = try DeviceTopics(org: "acme", dev: "lock-7f3a91")
        #expect(t.topic(.auditAck) == "warden/v1/acme/lock-7f3a91/audit/ack")
        for leaf in DeviceTopics.Leaf.allCases {
            let parsed = DeviceTopics.parse(t.topic(leaf))
            #expect(parsed?.topics == t && parsed?.leaf == leaf)
        }
        #expect(DeviceTopics.parse("warden/v2/acme/lock/state") == nil)
        #expect(DeviceTopics.parse("warden/v1/acme/lock/state/extra") == nil)
        #expect(DeviceTopics.parse("warden/v1/ACME/lock/state") == nil)
        #expect(DeviceTopics.sharedFilter(.audit) == "$share/warden-consumers/warden/v1/+/+/audit")
        #expect(throws: WireError.self) { try DeviceTopics(org: "acme/#", dev: "x") }
        #expect(throws: WireError.self) { try DeviceTopics(org: "acme", dev: String(repeating: "a", count: 65)) }
    }

    @Test func decodingNamesTheMissingOrWrongField() {
        func message(_ json: String) -> String {
            do {
                _ = try AuditBatch.decode(Array(json.utf8))
                return "accepted"
            } catch { return error.description }
        }
        #expect(message("nope") == "audit batch: not JSON")
        #expect(message(#"{"boot":"b"}"#) == "audit batch: required field 'records' is missing")
        #expect(message(#"{"boot":"b","records":[]}"#) == "audit batch: 0 records; 1 to 100 allowed")
        #expect(message(#"{"boot":1,"records":[]}"#) == "audit batch: field 'boot' has the wrong type")
        let r = AuditIngestPlanTests.chain(3).map(\.wire)
        let gap = WireJSON.encode(AuditBatch(boot: "b", records: [r[0], r[2]]))
        #expect(
            message(String(decoding: gap, as: UTF8.self)) == "audit batch: seq 3 follows 1; records must be consecutive"
        )
        // What a database column cannot hold is refused with the batch, naming the record and the field: such a
        // record could otherwise fail a group commit shared with other boards' batches.
        func one(_ change: (inout WireAuditRecord) -> Void) -> String {
            var w = r[0]
            change(&w)
            return message(String(decoding: WireJSON.encode(AuditBatch(boot: "b", records: [w])), as: UTF8.self))
        }
        #expect(one { $0.hash = "zz" + $0.hash.dropFirst(2) } == "audit batch: record 1: hash must be 64 hex digits")
        #expect(one { $0.prevHash = "ab" } == "audit batch: record 1: prev_hash must be 64 hex digits")
        #expect(one { $0.atMillis = -1 } == "audit batch: record 1: at_ms -1 is outside 0...253402300799999")
        #expect(one { $0.detail = "a\u{0}b" } == "audit batch: record 1: detail contains a NUL character")
        #expect(one { $0.kind = "" } == "audit batch: record 1: kind is empty")
        #expect(one { $0.hash = $0.hash.uppercased() } == "accepted", "hex in either case")
        // Unknown fields are ignored (a newer board may add some).
        #expect(
            (try? WireJSON.decode(
                AuditAck.self,
                from: Array(#"{"up_to_seq":4,"hash":"ab","new":true}"#.utf8),
                what: "ack"
            ))
                == AuditAck(upToSeq: 4, hash: "ab")
        )
    }

    @Test func aRecordSurvivesTheWireWithItsHash() throws {
        let r = AuditIngestPlanTests.chain(1)[0]
        let back = try AuditRecord(
            wire: try WireJSON.decode(WireAuditRecord.self, from: WireJSON.encode(r.wire), what: "r")
        )
        #expect(back == r && back.hashIsValid)
        var w = r.wire
        w.kind = "teleport"
        #expect(throws: WireError.self) { try AuditRecord(wire: w) }
    }

    @Test func cloudConfigErrorsNameTheKey() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cloudcfg-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func load(_ yaml: String, env: [String: String] = [:]) -> String {
            let f = dir.appendingPathComponent("c.yaml")
            try? yaml.write(to: f, atomically: true, encoding: .utf8)
            do {
                _ = try CloudConfig.load(path: f.path, environment: env)
                return "ok"
            } catch { return error.description }
        }
        let good = "authority: {key: a.pem, kid: k1}\ndatabase: {host: db, port: 5432}\n"
        #expect(load(good) == "ok")
        #expect(load("authority: {key: a.pem, kid: k1}\ndatabase: {hots: db}\n").contains("database.hots: unknown key"))
        #expect(load("authority: {key: a.pem, kid: k1}\ndatabase: {port: 99999}\n").contains("database.port: '99999'"))
        #expect(load("database: {host: db}\n").contains("authority.key and authority.kid are required"))
        #expect(load(good, env: ["WARDEN_DB_PORT": "x"]) == "WARDEN_DB_PORT='x' is not a port")
        #expect(load(good + "http: {port: 70000}\n").contains("http.port: '70000'"))
        #expect(load(good + "http: {listen: x}\n").contains("http.listen: unknown key"))
        #expect(load(good + "ingest_workers: 0\n").contains("ingest_workers: '0' is not a whole number in 1...16"))
        #expect(load(good, env: ["WARDEN_HTTP": "9464"]) == "WARDEN_HTTP='9464' is not HOST:PORT")
        #expect(
            load(good + "support_bundle_retention_days: 0\n").contains(
                "support_bundle_retention_days: '0' is not a whole number in 1...3650"
            )
        )
        #expect(CloudConfig().supportBundleRetention == .seconds(30 * 86_400), "a month unless set")
        let week = dir.appendingPathComponent("week.yaml")
        try (good + "support_bundle_retention_days: 7\n").write(to: week, atomically: true, encoding: .utf8)
        #expect(try CloudConfig.load(path: week.path, environment: [:]).supportBundleRetention == .seconds(7 * 86_400))
        let served = try CloudConfig.load(
            path: nil,
            environment: ["WARDEN_AUTHORITY_KEY": "/k", "WARDEN_AUTHORITY_KID": "k", "WARDEN_HTTP": "0.0.0.0:9464"]
        )
        #expect(served.http?.host == "0.0.0.0" && served.http?.port == 9464 && served.ingestWorkers == 2)
        let c = try CloudConfig.load(
            path: nil,
            environment: ["WARDEN_AUTHORITY_KEY": "/k", "WARDEN_AUTHORITY_KID": "k", "WARDEN_BROKER": "mq:8883"]
        )
        #expect(c.broker.host == "mq" && c.broker.port == 8883 && c.authorityKeyFile == "/k")
        // The authority key must not be readable by others.
        let key = dir.appendingPathComponent("a.pem")
        try "x".write(to: key, atomically: true, encoding: .utf8)
        chmod(key.path, 0o644)
        #expect(throws: CloudError.self) { try CloudAuthority.load(keyFile: key.path, keyID: "k1") }
    }
}
