/// Days as written in schedules. `holiday` is a pseudo-day: on a site holiday only windows listing it apply.
public enum Weekday: String, Sendable, Codable, CaseIterable {
    case mon, tue, wed, thu, fri, sat, sun, holiday

    /// Maps Foundation's Gregorian weekday (1 = Sunday) to ours.
    public init(gregorian: Int) {
        switch gregorian {
        case 1: self = .sun
        case 2: self = .mon
        case 3: self = .tue
        case 4: self = .wed
        case 5: self = .thu
        case 6: self = .fri
        default: self = .sat
        }
    }

    /// The day before, for windows that run past midnight.
    public var previous: Weekday {
        switch self {
        case .mon: return .sun
        case .tue: return .mon
        case .wed: return .tue
        case .thu: return .wed
        case .fri: return .thu
        case .sat: return .fri
        case .sun: return .sat
        case .holiday: return .holiday
        }
    }
}
