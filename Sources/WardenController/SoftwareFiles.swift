import Foundation
import POSIXIO
import WardenWire

/// Where the board's software facts live (docs/updates.md): the installed version (written by the package), the
/// update order wardend hands to warden-updater and the support-bundle order it hands to `wardenctl support-bundle`
/// (both in wardend's runtime folder, 0600), and the updater's report. `software:` in warden.yaml overrides them for
/// tests and images.
public struct SoftwareFiles: Sendable, Equatable {
    public var versionFile = "/usr/share/warden/version"
    public var updateOrder: String
    public var updateReport = "/var/lib/warden-board/update.json"
    public var supportOrder: String

    public init(controlSocket: String) {
        let dir = (controlSocket as NSString).deletingLastPathComponent as NSString
        updateOrder = dir.appendingPathComponent("update-order.json")
        supportOrder = dir.appendingPathComponent("support-order.json")
    }

    /// The installed package's version, or nil on a board not installed from a package.
    public func installedVersion() -> String? {
        guard let text = try? String(contentsOfFile: versionFile, encoding: .utf8) else { return nil }
        let v = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return v.isEmpty ? nil : v
    }

    public func report() -> UpdateReport? {
        guard let data = FileManager.default.contents(atPath: updateReport) else { return nil }
        return try? WireJSON.decode(UpdateReport.self, from: Array(data), what: "update report")
    }

    public func order() -> HandedCommand? {
        guard let data = FileManager.default.contents(atPath: updateOrder) else { return nil }
        return try? WireJSON.decode(HandedCommand.self, from: Array(data), what: "update order")
    }

    /// The file each root helper watches for its hand-over; nil for commands wardend carries out itself.
    public func handOverFile(for kind: SignedCommand.Kind) -> String? {
        switch kind {
        case .update: updateOrder
        case .supportBundle: supportOrder
        case .unlock, .lockdown, .sync: nil
        }
    }

    /// Hands a verified command to its root helper (warden-updater.path, warden-support.path): written to a
    /// temporary file and renamed, owner-only. Throws for a command no helper takes.
    public func handOver(_ kind: SignedCommand.Kind, token: String, now: Date) throws {
        guard let path = handOverFile(for: kind) else {
            throw SoftwareFilesError.noHelper(kind.rawValue)
        }
        try Self.write(
            WireJSON.encode(HandedCommand(token: token, received: Int64(now.timeIntervalSince1970))),
            to: path
        )
    }

    public func writeReport(_ r: UpdateReport) throws {
        try FileManager.default.createDirectory(
            atPath: (updateReport as NSString).deletingLastPathComponent,
            withIntermediateDirectories: true
        )
        try Self.write(WireJSON.encode(r), to: updateReport, mode: 0o644)
    }

    static func write(_ bytes: [UInt8], to path: String, mode: mode_t = 0o600) throws {
        try AtomicFile.write(bytes, to: path, mode: mode)
    }
}
