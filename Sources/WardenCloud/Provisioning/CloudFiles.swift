import Foundation
import POSIXIO

/// The cloud's key files: read only when no one else can, written whole (a temporary file, then rename) so a
/// crash never leaves half a key or half a revocation list for mosquitto to read.
enum CloudFiles {
    static func readSecret(_ path: String, what: String) throws(CloudError) -> String {
        guard let attrs = try? FileManager.default.attributesOfItem(atPath: path),
            let text = try? String(contentsOfFile: path, encoding: .utf8)
        else { throw CloudError(.config, "\(what): cannot read \(path)") }
        if let mode = attrs[.posixPermissions] as? Int, mode & 0o077 != 0 {
            throw CloudError(
                .config,
                "\(what) \(path) is readable by others (mode \(String(mode, radix: 8))); run chmod 600 on it"
            )
        }
        return text
    }

    /// Writes `text` to `path` through a temporary file in the same folder and a rename, with `mode`.
    static func write(_ text: String, to path: String, mode: Int) throws(CloudError) {
        do { try AtomicFile.write(Array(text.utf8), to: path, mode: mode_t(mode)) } catch {
            throw CloudError(.config, "\(error.description): check that the folder exists and is writable")
        }
    }
}
