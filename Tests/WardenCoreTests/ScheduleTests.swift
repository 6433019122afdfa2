import Foundation
import Testing
import WardenCore

@Suite struct ScheduleTests {
    func cal(_ tz: String, holidays: Set<String> = []) throws -> SiteCalendar {
        try SiteCalendar(timeZoneIdentifier: tz, holidays: holidays)
    }

    @Test func berlinSpringForwardUsesSummerOffset() throws {
        // 2026-03-29: 02:00 CET jumps to 03:00 CEST. A Sunday 08:00-18:00 window.
        let s = WeeklySchedule(windows: [try window([.sun], "08:00", "18:00")])
        let berlin = try cal("Europe/Berlin")
        #expect(s.evaluate(utc("2026-03-29T06:30:00Z"), in: berlin) == .inside)  // 08:30 CEST
        #expect(s.evaluate(utc("2026-03-29T05:59:00Z"), in: berlin) == .outside)  // 07:59 CEST
        #expect(s.evaluate(utc("2026-03-29T15:59:00Z"), in: berlin) == .inside)  // 17:59 CEST
        #expect(s.evaluate(utc("2026-03-29T16:00:00Z"), in: berlin) == .outside)  // 18:00 CEST
        // The skipped hour never matches a 02:00-03:00 window.
        let night = WeeklySchedule(windows: [try window([.sun], "02:00", "03:00")])
        #expect(night.evaluate(utc("2026-03-29T00:59:00Z"), in: berlin) == .outside)  // 01:59 CET
        #expect(night.evaluate(utc("2026-03-29T01:00:00Z"), in: berlin) == .outside)  // 03:00 CEST
    }

    @Test func berlinFallBackRepeatsAnHour() throws {
        // 2026-10-25: 03:00 CEST falls back to 02:00 CET; 02:00-03:00 local happens twice.
        let s = WeeklySchedule(windows: [try window([.sun], "02:00", "03:00")])
        let berlin = try cal("Europe/Berlin")
        #expect(s.evaluate(utc("2026-10-25T00:30:00Z"), in: berlin) == .inside)  // 02:30 CEST
        #expect(s.evaluate(utc("2026-10-25T01:30:00Z"), in: berlin) == .inside)  // 02:30 CET
        #expect(s.evaluate(utc("2026-10-25T02:00:00Z"), in: berlin) == .outside)  // 03:00 CET
        let day = WeeklySchedule(windows: [try window([.sun], "08:00", "18:00")])
        #expect(day.evaluate(utc("2026-10-25T07:00:00Z"), in: berlin) == .inside)  // 08:00 CET
        #expect(day.evaluate(utc("2026-10-25T06:30:00Z"), in: berlin) == .outside)  // 07:30 CET (08:30 if still +2)
    }

    @Test func newYorkSpringAndFall() throws {
        let ny = try cal("America/New_York")
        let s = WeeklySchedule(windows: [try window([.sun], "08:00", "18:00")])
        // 2026-03-08: 02:00 EST -> 03:00 EDT (UTC-4).
        #expect(s.evaluate(utc("2026-03-08T12:00:00Z"), in: ny) == .inside)  // 08:00 EDT
        #expect(s.evaluate(utc("2026-03-08T11:30:00Z"), in: ny) == .outside)  // 07:30 EDT
        // 2026-11-01: 02:00 EDT -> 01:00 EST (UTC-5).
        #expect(s.evaluate(utc("2026-11-01T13:00:00Z"), in: ny) == .inside)  // 08:00 EST
        #expect(s.evaluate(utc("2026-11-01T12:30:00Z"), in: ny) == .outside)  // 07:30 EST
        let early = WeeklySchedule(windows: [try window([.sun], "01:00", "02:00")])
        #expect(early.evaluate(utc("2026-11-01T05:30:00Z"), in: ny) == .inside)  // 01:30 EDT
        #expect(early.evaluate(utc("2026-11-01T06:30:00Z"), in: ny) == .inside)  // 01:30 EST (again)
        #expect(early.evaluate(utc("2026-11-01T07:30:00Z"), in: ny) == .outside)  // 02:30 EST
    }

    @Test func overnightWindowCrossesMidnightIntoNextDay() throws {
        let s = WeeklySchedule(windows: [try window([.fri], "22:00", "06:00")])
        let utcCal = try cal("UTC")
        #expect(s.evaluate(utc("2026-09-25T23:00:00Z"), in: utcCal) == .inside)  // Fri 23:00
        #expect(s.evaluate(utc("2026-09-26T05:59:00Z"), in: utcCal) == .inside)  // Sat 05:59
        #expect(s.evaluate(utc("2026-09-26T06:00:00Z"), in: utcCal) == .outside)
        #expect(s.evaluate(utc("2026-09-25T21:59:00Z"), in: utcCal) == .outside)
    }

    @Test func badInputIsNamed() {
        #expect(throws: ScheduleError(message: "'25:00' is not a time of day: write HH:MM, 00:00 to 24:00")) {
            try LocalTime(parsing: "25:00")
        }
        #expect(throws: ScheduleError.self) { try LocalTime(parsing: "8:00") }
        #expect(throws: ScheduleError.self) { try SiteCalendar(timeZoneIdentifier: "Mars/Olympus") }
        #expect(throws: ScheduleError.self) { try SiteCalendar(timeZoneIdentifier: "UTC", holidays: ["12/25/2026"]) }
    }
}
