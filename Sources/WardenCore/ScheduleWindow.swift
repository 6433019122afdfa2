/// One weekly window in site-local time: on `days`, from `start` to `end`. When `end` <= `start` the window runs past
/// midnight into the next day (a night shift 22:00-06:00 listed on `mon` covers Monday 22:00 to Tuesday 06:00).
public struct ScheduleWindow: Sendable, Hashable, Codable {
    public var days: [Weekday]
    public var start: LocalTime
    public var end: LocalTime

    public init(days: [Weekday], start: LocalTime, end: LocalTime) {
        self.days = days
        self.start = start
        self.end = end
    }

    var crossesMidnight: Bool { end <= start && !(start.minutes == 0 && end.minutes == 0) }

    /// Whether local (day, minute-of-day) falls inside this window. `previousDay` is the calendar day before, whose
    /// overnight windows reach into today; holidays are resolved by the caller into the `day` values.
    func contains(day: Weekday, previousDay: Weekday, minute: Int) -> Bool {
        if start.minutes == 0 && end.minutes == 0 { return days.contains(day) }  // 00:00-00:00 = whole day
        if crossesMidnight {
            if days.contains(day) && minute >= start.minutes { return true }
            if days.contains(previousDay) && minute < end.minutes { return true }
            return false
        }
        return days.contains(day) && minute >= start.minutes && minute < end.minutes
    }
}
