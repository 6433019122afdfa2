import Foundation
import Logging

/// swift-log handler for systemd: one line per entry on stderr, prefixed with the syslog priority (`<3>`) so
/// journald files it at the right level, then `label: message key=value ...`. Never given secrets: call sites log
/// credential ids and reasons, never tokens, proofs or keys.
public struct JournaldLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    private let label: String

    public init(label: String, level: Logger.Level = .info) {
        self.label = label
        self.logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: return 7
        case .info: return 6
        case .notice: return 5
        case .warning: return 4
        case .error: return 3
        case .critical: return 2
        }
    }

    public func log(event: LogEvent) {
        var all = metadata
        if let m = event.metadata { all.merge(m) { $1 } }
        var line = "<\(Self.priority(event.level))>\(label): \(event.message)"
        for (k, v) in all.sorted(by: { $0.key < $1.key }) {
            let s = "\(v)"
            line += s.contains(" ") ? " \(k)=\"\(s)\"" : " \(k)=\(s)"
        }
        line += "\n"
        FileHandle.standardError.write(Data(line.utf8))
    }
}
