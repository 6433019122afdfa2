import Glibc

/// Replaces a file whole, so a crash or power cut leaves the old file or the new one, never half of one: the bytes go
/// to `path.tmp-<pid>` (two processes writing one file, as two warden-cloud instances write the CRL, never share a
/// temporary file), created owner-only (never readable by others in between, and without touching the process-wide
/// umask), then get `mode`, are synced, and the temporary file is renamed over `path`.
public enum AtomicFile {
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    public static func write(_ bytes: [UInt8], to path: String, mode: mode_t) throws(Failure) {
        let tmp = path + ".tmp-\(getpid())"
        unlink(tmp)
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode & 0o600)
        guard fd >= 0 else {
            throw Failure(
                description: "cannot write \(tmp): \(String(cString: strerror(errno))) (is its folder writable?)"
            )
        }
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            done += n
        }
        let ok = done == bytes.count && fchmod(fd, mode) == 0 && fsync(fd) == 0
        let reason = String(cString: strerror(errno))
        close(fd)
        guard ok else {
            unlink(tmp)
            throw Failure(description: "cannot write \(tmp): \(reason)")
        }
        guard rename(tmp, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(tmp)
            throw Failure(description: "cannot replace \(path): \(reason)")
        }
    }
}
