import Logging
import PostgresNIO
import ServiceLifecycle
import WardenWire

/// Ends a one-time key at its first use: when a board's report of a granted decision for one of the key's
/// credentials (`<key>-<phone>`) is stored, the key is revoked at every door it reaches, the same way a manager's
/// revoke is (new access lists to the boards, the phone's next fetch without it). A board decides offline, so "one
/// use" holds once the use has reached the cloud: an online board hears the revoke within about a second; a board
/// that is offline admits the key until it reconnects, within the key's validity (docs/api.md).
public struct OneTimeKeyService: Service {
    let api: ManagerAPI
    let interval: Duration

    public init(operations: CloudOperations, logger: Logger, interval: Duration = .milliseconds(500)) {
        self.api = ManagerAPI(operations: operations, logger: logger)
        self.interval = interval
    }

    public func run() async throws {
        await PeriodicPass.run(every: interval, logger: api.logger, what: "one-time keys: a sweep") {
            _ = try await sweep()
        }
    }

    /// Revokes every active one-time key that has been used; returns the keys it revoked. Each key's uses are
    /// found through its holder's events (the `(org_id, user_id, at)` index), so a sweep costs a few index probes
    /// per active one-time key, however long the audit trail.
    public func sweep() async throws -> [String] {
        var used: [(org: String, key: String)] = []
        for try await r in try await api.db.query(
            """
            SELECT k.org_id, k.id FROM keys k
            WHERE k.one_time AND k.status = 'active' AND EXISTS (
                SELECT 1 FROM audit_events e
                WHERE e.org_id = k.org_id AND e.user_id = k.user_id AND e.kind = \(AuditKind.accessGranted.rawValue)
                AND left(e.credential_id, length(k.id) + 1) = k.id || '-')
            """,
            logger: api.logger
        ).decode((String, String).self) {
            used.append((r.0, r.1))
        }
        var revoked: [String] = []
        for (org, key) in used where try await api.revokeKey(org: org, id: key, onlyActive: true) {
            api.logger.notice("one-time key used; revoked", metadata: ["org": "\(org)", "key": "\(key)"])
            revoked.append(key)
        }
        return revoked
    }
}
