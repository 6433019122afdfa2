import Foundation

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
        let tmp = path + ".tmp-\(getpid())"
        guard
            FileManager.default.createFile(
                atPath: tmp,
                contents: Data(text.utf8),
                attributes: [.posixPermissions: mode]
            )
        else { throw CloudError(.config, "cannot write \(tmp): check that the folder exists and is writable") }
        guard rename(tmp, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(tmp)
            throw CloudError(.config, "cannot replace \(path): \(reason)")
        }
    }
}
