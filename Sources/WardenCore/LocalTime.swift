/// A wall-clock time of day in the site's time zone, minute precision ("07:30"). "24:00" is allowed as an end.
public struct LocalTime: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public let minutes: Int

    public init(minutes: Int) throws(ScheduleError) {
        guard (0...1440).contains(minutes) else {
            throw ScheduleError(message: "time of day \(minutes) min is outside 00:00...24:00")
        }
        self.minutes = minutes
    }

    public init(parsing text: String) throws(ScheduleError) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 2, parts[1].count == 2,
            let h = Int(parts[0]), let m = Int(parts[1]), (0...24).contains(h), (0...59).contains(m),
            h < 24 || m == 0
        else {
            throw ScheduleError(message: "'\(text)' is not a time of day: write HH:MM, 00:00 to 24:00")
        }
        self.minutes = h * 60 + m
    }

    /// A bad time is a `DecodingError` at its place in the document, so an API answer or a config error can name
    /// the field (`schedule[0].start`).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        let text = try c.decode(String.self)
        do { self = try LocalTime(parsing: text) } catch {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: error.message)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }

    public var description: String {
        let h = minutes / 60
        let m = minutes % 60
        return (h < 10 ? "0" : "") + "\(h):" + (m < 10 ? "0" : "") + "\(m)"
    }

    public static func < (a: LocalTime, b: LocalTime) -> Bool { a.minutes < b.minutes }
}

/// A schedule could not be understood; the message names the offending value.
public struct ScheduleError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}
