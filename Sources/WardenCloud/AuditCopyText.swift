import NIOCore
import WardenWire

/// Audit rows in PostgreSQL's COPY text format (tab-separated, `\N` for NULL, backslash escapes), for the group
/// commit's `COPY audit_events FROM STDIN`: the fastest way rows enter PostgreSQL, without a statement per row or
/// a JSON hop. Callers pass records `AuditBatch.decode` accepted (hex hashes, no NUL, a timestamp in range).
enum AuditCopyText {
    static let columns = [
        "org_id", "device_id", "seq", "at", "at_ms", "kind", "door_id", "credential_id", "user_id", "reason", "detail",
        "prev_hash", "hash", "flags",
    ]

    static func rows(_ rows: [CloudStore.FlaggedRecord]) -> ByteBuffer {
        var out = ByteBuffer()
        out.reserveCapacity(rows.count * 420)
        for row in rows {
            let r = row.record
            text(row.org, &out)
            tab(&out)
            text(row.device, &out)
            tab(&out)
            out.writeString(String(r.seq))
            tab(&out)
            timestamp(millis: r.atMillis, &out)
            tab(&out)
            out.writeString(String(r.atMillis))
            tab(&out)
            text(r.kind, &out)
            for field in [r.door, r.credentialID, r.userID, r.reason, r.detail] {
                tab(&out)
                if let field { text(field, &out) } else { out.writeStaticString("\\N") }
            }
            tab(&out)
            bytea(hex: r.prevHash, &out)
            tab(&out)
            bytea(hex: r.hash, &out)
            tab(&out)
            if row.flags.isEmpty {
                out.writeStaticString("\\N")
            } else {
                out.writeString("{" + row.flags.joined(separator: ",") + "}")
            }
            out.writeInteger(UInt8(ascii: "\n"))
        }
        return out
    }

    private static func tab(_ out: inout ByteBuffer) { out.writeInteger(UInt8(ascii: "\t")) }

    /// A text field with COPY's escapes for backslash, tab, newline and carriage return.
    static func text(_ s: String, _ out: inout ByteBuffer) {
        var s = s
        s.withUTF8 { bytes in
            if !bytes.contains(where: { $0 == 0x5C || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }) {
                out.writeBytes(bytes)
                return
            }
            for b in bytes {
                switch b {
                case 0x5C: out.writeStaticString("\\\\")
                case 0x09: out.writeStaticString("\\t")
                case 0x0A: out.writeStaticString("\\n")
                case 0x0D: out.writeStaticString("\\r")
                default: out.writeInteger(b)
                }
            }
        }
    }

    /// bytea's hex input form `\x…`, its backslash escaped for COPY.
    private static func bytea(hex: String, _ out: inout ByteBuffer) {
        out.writeStaticString("\\\\x")
        out.writeString(hex)
    }

    /// UTC `YYYY-MM-DD HH:MM:SS.mmm+00` from Unix milliseconds (0 up to the end of year 9999), the instant
    /// the INSERT path computes from whole seconds and milliseconds (exact; `to_timestamp(at_ms / 1000.0)` and
    /// `at_ms * interval '1 ms'` go through a double and are not, far enough from 1970).
    static func timestamp(millis: Int64, _ out: inout ByteBuffer) {
        let ms = Int(millis % 1000)
        let secs = Int(millis / 1000)
        let (y, m, d) = civil(days: secs / 86_400)
        let sod = secs % 86_400
        func pad(_ v: Int, _ width: Int) {
            var digits = [UInt8](repeating: UInt8(ascii: "0"), count: width)
            var v = v
            for i in stride(from: width - 1, through: 0, by: -1) {
                digits[i] = UInt8(ascii: "0") + UInt8(v % 10)
                v /= 10
            }
            out.writeBytes(digits)
        }
        pad(y, 4)
        out.writeInteger(UInt8(ascii: "-"))
        pad(m, 2)
        out.writeInteger(UInt8(ascii: "-"))
        pad(d, 2)
        out.writeInteger(UInt8(ascii: " "))
        pad(sod / 3600, 2)
        out.writeInteger(UInt8(ascii: ":"))
        pad(sod / 60 % 60, 2)
        out.writeInteger(UInt8(ascii: ":"))
        pad(sod % 60, 2)
        out.writeInteger(UInt8(ascii: "."))
        pad(ms, 3)
        out.writeStaticString("+00")
    }

    /// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's days-to-civil algorithm).
    static func civil(days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
