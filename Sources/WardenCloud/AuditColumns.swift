import WardenWire

/// Audit rows turned inside out, one array per column, for an `INSERT ... SELECT FROM unnest(...)` whose parameters
/// PostgreSQL receives in binary form. `absent` carries the NULLs the arrays cannot: bit 0 door, 1 credential,
/// 2 user, 3 reason, 4 detail.
struct AuditColumns {
    var org: [String] = []
    var dev: [String] = []
    var seq: [Int64] = []
    var atMillis: [Int64] = []
    var kind: [String] = []
    var door: [String] = []
    var credential: [String] = []
    var user: [String] = []
    var reason: [String] = []
    var detail: [String] = []
    var prevHash: [String] = []
    var hash: [String] = []
    /// Flag names joined by commas (names are identifiers without commas); empty when the row is clean.
    var flags: [String] = []
    var absent: [Int32] = []

    init(_ rows: [CloudStore.FlaggedRecord]) {
        for row in rows {
            let r = row.record
            org.append(row.org)
            dev.append(row.device)
            seq.append(r.seq)
            atMillis.append(r.atMillis)
            kind.append(r.kind)
            var mask: Int32 = 0
            if r.door == nil { mask |= 1 }
            if r.credentialID == nil { mask |= 2 }
            if r.userID == nil { mask |= 4 }
            if r.reason == nil { mask |= 8 }
            if r.detail == nil { mask |= 16 }
            door.append(r.door ?? "")
            credential.append(r.credentialID ?? "")
            user.append(r.userID ?? "")
            reason.append(r.reason ?? "")
            detail.append(r.detail ?? "")
            prevHash.append(r.prevHash)
            hash.append(r.hash)
            flags.append(row.flags.joined(separator: ","))
            absent.append(mask)
        }
    }
}
