import Foundation

/// When a credential (or passage mode) applies. An empty schedule means "always"; otherwise at least one window must
/// contain the local time. On a site holiday the day counts as `holiday` instead of its weekday.
public struct WeeklySchedule: Sendable, Hashable, Codable {
    public var windows: [ScheduleWindow]

    public init(windows: [ScheduleWindow] = []) { self.windows = windows }

    public static let always = WeeklySchedule()

    public var isAlways: Bool { windows.isEmpty }

    public enum Verdict: Sendable, Equatable {
        case inside
        case outside
        /// Outside because today is a holiday (a regular weekday window would have matched).
        case holiday
    }

    public func evaluate(_ instant: Date, in calendar: SiteCalendar) -> Verdict {
        if windows.isEmpty { return .inside }
        let m = calendar.local(instant)
        let today: Weekday = m.isHoliday ? .holiday : m.weekday
        let yesterday: Weekday = m.previousDayIsHoliday ? .holiday : m.previousWeekday
        if windows.contains(where: { $0.contains(day: today, previousDay: yesterday, minute: m.minuteOfDay) }) {
            return .inside
        }
        if m.isHoliday || m.previousDayIsHoliday {
            let plainToday = m.weekday
            let plainYesterday = m.previousWeekday
            if windows.contains(where: {
                $0.contains(day: plainToday, previousDay: plainYesterday, minute: m.minuteOfDay)
            }) {
                return .holiday
            }
        }
        return .outside
    }
}
