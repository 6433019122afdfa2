import Foundation

/// The site's time zone and holidays. Schedules are written in local wall time, so evaluation converts the instant
/// with the IANA zone rules; that is what makes DST switch days come out right (a 23 h or 25 h day).
public struct SiteCalendar: Sendable, Equatable {
    public let timeZone: TimeZone
    /// Local dates ("2026-12-25") on which only `holiday` windows apply.
    public var holidays: Set<String>

    public init(timeZoneIdentifier: String, holidays: Set<String> = []) throws(ScheduleError) {
        guard let tz = TimeZone(identifier: timeZoneIdentifier) else {
            throw ScheduleError(
                message: "unknown time zone '\(timeZoneIdentifier)': use an IANA name such as Europe/Berlin"
            )
        }
        for h in holidays {
            guard SiteCalendar.parseDate(h) != nil else {
                throw ScheduleError(message: "holiday '\(h)' is not a date: write YYYY-MM-DD")
            }
        }
        self.timeZone = tz
        self.holidays = holidays
    }

    static func parseDate(_ text: String) -> (Int, Int, Int)? {
        let p = text.split(separator: "-")
        guard p.count == 3, p[0].count == 4, p[1].count == 2, p[2].count == 2,
            let y = Int(p[0]), let m = Int(p[1]), let d = Int(p[2]), (1...12).contains(m), (1...31).contains(d)
        else { return nil }
        return (y, m, d)
    }

    /// Local calendar facts of an instant.
    public struct LocalMoment: Sendable, Equatable {
        public var date: String
        public var weekday: Weekday
        public var minuteOfDay: Int
        public var isHoliday: Bool
        public var previousDayIsHoliday: Bool
        public var previousWeekday: Weekday
    }

    public func local(_ instant: Date) -> LocalMoment {
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = timeZone
        let c = cal.dateComponents([.year, .month, .day, .hour, .minute, .weekday], from: instant)
        let date = SiteCalendar.format(c.year!, c.month!, c.day!)
        let yesterday = cal.date(byAdding: .day, value: -1, to: instant)!
        let y = cal.dateComponents([.year, .month, .day], from: yesterday)
        let weekday = Weekday(gregorian: c.weekday!)
        return LocalMoment(
            date: date,
            weekday: weekday,
            minuteOfDay: c.hour! * 60 + c.minute!,
            isHoliday: holidays.contains(date),
            previousDayIsHoliday: holidays.contains(SiteCalendar.format(y.year!, y.month!, y.day!)),
            previousWeekday: weekday.previous
        )
    }

    static func format(_ y: Int, _ m: Int, _ d: Int) -> String {
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(y)-\(two(m))-\(two(d))"
    }
}
