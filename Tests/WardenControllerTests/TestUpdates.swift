import Foundation
import WardenWire

extension AccessListUpdate {
    /// A signed-snapshot payload for the front door that revokes one credential (version 1): the revocation most
    /// tests start from.
    static func revoking(_ id: String = "c1", user: String = "alice", at date: Date) -> AccessListUpdate {
        AccessListUpdate(
            issuer: "org",
            doors: ["front"],
            version: 1,
            base: nil,
            snapshot: true,
            grant: [],
            revoke: [.init(id: id, user: user)],
            issuedAt: date
        )
    }
}

/// A site config whose front door has a passage window on Mondays 16:00-16:30 Berlin; `extra` adds top-level keys.
func passageConfigYAML(stateDir: String, extra: String = "") -> String {
    """
    door: {id: front, lock_id: lock-1}
    board: \(repoRoot.appendingPathComponent("boards/sim.yaml").path)
    site:
      time_zone: Europe/Berlin
      passage_schedule:
        - {days: [mon], start: "16:00", end: "16:30"}
    authority_keys: {org-1: authority.pub}
    state_dir: \(stateDir)
    \(extra)
    """
}
