import Foundation
import Synchronization

/// Runs a program to completion for a test (openssl, mosquitto_passwd, psql, wardenctl, python3).
public enum Command {
    /// Returns the exit code and stdout and stderr together.
    public static func run(_ exe: String, _ args: [String]) -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = args
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        do { try p.run() } catch { return (-1, "\(exe): \(error)") }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Returns the exit code, stdout and stderr apart.
    public static func output(_ exe: String, _ args: [String]) throws -> (Int32, String, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = args
        let out = Pipe()
        let err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        // Both pipes are drained at once (stderr on its own thread), so a chatty child never blocks on a full pipe.
        let errData = ErrorOutput()
        let done = DispatchGroup()
        done.enter()
        DispatchQueue.global().async {
            errData.data.withLock { $0 = err.fileHandleForReading.readDataToEndOfFile() }
            done.leave()
        }
        let o = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        done.wait()
        let e = errData.data.withLock { $0 }
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    private final class ErrorOutput: Sendable {
        let data = Mutex(Data())
    }
}
