import Foundation
import WardenCore
import WardenWire

/// Checks on the API's input values, each naming the field it was given in. Everything is checked before anything
/// is written, so a refused request changes nothing.
enum APIInput {
    static func id(_ value: String, _ field: String) throws(Problem) {
        guard DeviceTopics.isValidID(value) else {
            throw Problem.invalid(field, "'\(value.prefix(80))' is not an id: use 1-64 of a-z, 0-9 and '-'")
        }
    }

    static func ids(_ values: [String], _ field: String, max: Int = 500) throws(Problem) {
        guard values.count <= max else { throw Problem.invalid(field, "at most \(max) items") }
        for (i, v) in values.enumerated() { try id(v, "\(field)[\(i)]") }
        guard Set(values).count == values.count else { throw Problem.invalid(field, "lists an item twice") }
    }

    static func text(_ value: String, _ field: String, max: Int = 200) throws(Problem) {
        let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw Problem.invalid(field, "must not be empty") }
        guard value.count <= max else { throw Problem.invalid(field, "at most \(max) characters") }
        guard !value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw Problem.invalid(field, "must not contain control characters")
        }
    }

    static func email(_ value: String, _ field: String = "email") throws(Problem) {
        try text(value, field, max: 254)
        let parts = value.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), !parts[1].hasPrefix("."),
            !parts[1].hasSuffix("."), !value.contains(where: \.isWhitespace)
        else { throw Problem.invalid(field, "'\(value.prefix(80))' is not an email address") }
    }

    static func timeZone(_ value: String, _ field: String = "time_zone") throws(Problem) {
        guard value.count <= 64, value.contains("/") || value == "UTC", TimeZone(identifier: value) != nil else {
            throw Problem.invalid(field, "'\(value.prefix(80))' is not an IANA time zone (e.g. Europe/Berlin)")
        }
    }

    static func holidays(_ values: [String], _ field: String = "holidays") throws(Problem) {
        guard values.count <= 366 else { throw Problem.invalid(field, "at most 366 dates") }
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd"
        for (i, v) in values.enumerated() {
            guard v.count == 10, let d = f.date(from: v), f.string(from: d) == v else {
                throw Problem.invalid("\(field)[\(i)]", "'\(v.prefix(40))' is not a date (YYYY-MM-DD)")
            }
            guard let year = Int(v.prefix(4)), (1970...9999).contains(year) else {
                throw Problem.invalid("\(field)[\(i)]", "'\(v)' is out of range (1970-01-01 to 9999-12-31)")
            }
        }
    }

    static func role(_ value: String, _ field: String = "role") throws(Problem) -> Principal.Role {
        guard let r = Principal.Role(rawValue: value) else {
            throw Problem.invalid(field, "must be one of admin, site_manager, viewer, holder")
        }
        return r
    }

    static func password(_ value: String, _ field: String = "password") throws(Problem) {
        guard value.count >= 12 else { throw Problem.invalid(field, "at least 12 characters") }
        guard value.utf8.count <= 256 else { throw Problem.invalid(field, "at most 256 bytes") }
    }

    /// The API's times: no earlier than 2000 and no later than 9999 (the board's clock range).
    static func time(_ value: Date, _ field: String) throws(Problem) {
        guard value.timeIntervalSince1970 >= 946_684_800, value.timeIntervalSince1970 < 253_402_300_800 else {
            throw Problem.invalid(field, "must be between 2000-01-01 and 9999-12-31")
        }
    }

    static func schedule(_ windows: [ScheduleWindow], _ field: String = "schedule") throws(Problem) {
        guard windows.count <= 28 else { throw Problem.invalid(field, "at most 28 windows") }
        for (i, w) in windows.enumerated() {
            if w.days.isEmpty { throw Problem.invalid("\(field)[\(i)].days", "must name at least one day") }
            if w.start.minutes == 24 * 60 { throw Problem.invalid("\(field)[\(i)].start", "24:00 is only an end") }
        }
    }

    static func limit(_ value: String?, default def: Int = 100, max: Int = 1000) throws(Problem) -> Int {
        guard let value else { return def }
        guard let n = Int(value), (1...max).contains(n) else {
            throw Problem.invalid("limit", "must be an integer from 1 to \(max)")
        }
        return n
    }

    /// A query parameter's time: RFC 3339.
    static func queryTime(_ value: String?, _ field: String) throws(Problem) -> Date? {
        guard let value else { return nil }
        guard let d = APIJSON.parseDate(value) else {
            throw Problem.invalid(field, "'\(value.prefix(40))' is not an RFC 3339 date-time")
        }
        try time(d, field)
        return d
    }
}
