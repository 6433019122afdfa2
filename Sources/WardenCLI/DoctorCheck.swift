import Foundation

/// One line of `wardenctl doctor`: what was checked, how it went, what was seen, and what to do when it failed.
struct DoctorCheck: Equatable {
    enum Status: String {
        case pass = "PASS"
        case fail = "FAIL"
        case warn = "WARN"
        case skip = "SKIP"
    }
    var name: String
    var status: Status
    var detail: String
    var fix: String? = nil

    static func pass(_ name: String, _ detail: String) -> DoctorCheck {
        .init(name: name, status: .pass, detail: detail)
    }
    static func fail(_ name: String, _ detail: String, fix: String) -> DoctorCheck {
        .init(name: name, status: .fail, detail: detail, fix: fix)
    }
    static func warn(_ name: String, _ detail: String, fix: String) -> DoctorCheck {
        .init(name: name, status: .warn, detail: detail, fix: fix)
    }
    static func skip(_ name: String, _ detail: String) -> DoctorCheck {
        .init(name: name, status: .skip, detail: detail)
    }

    var line: String {
        "\(status.rawValue)  \(name.padding(toLength: 9, withPad: " ", startingAt: 0)) \(detail)"
            + (fix.map { "\n      fix: \($0)" } ?? "")
    }
}
