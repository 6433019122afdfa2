import Foundation

/// One human-readable line per audit record, shared by `watch`, `audit list` and the demo.
enum AuditFormat {
    static func line(
        seq: Int64,
        ms: Int64,
        kind: String,
        reason: String?,
        detail: String?,
        credential: String?,
        user: String?
    ) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        var s = "#\(seq) \(f.string(from: Date(timeIntervalSince1970: Double(ms) / 1000))) \(kind)"
        if let reason { s += " \(reason)" }
        if let detail { s += " [\(detail)]" }
        if let user { s += " user=\(user)" }
        if let credential { s += " credential=\(credential)" }
        return s
    }
}
