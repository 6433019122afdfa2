import Foundation

/// Runs a program and collects its output, with posix_spawn and waitpid. Not Foundation's `Process`: called from
/// a Swift concurrency thread (every wardenctl command runs on one), its `waitUntilExit` can miss the child's exit
/// and hang with the child a zombie, which the package test caught in `wardenctl update recover`.
enum Subprocess {
    struct Result {
        /// The exit status, or 128 + the signal that ended it.
        var status: Int32
        /// Standard output and standard error, interleaved as written.
        var output: String
    }

    /// Runs `executable` (an absolute path) with `arguments`, standard input from /dev/null; nil when it cannot start.
    static func run(
        _ executable: String,
        _ arguments: [String],
        cwd: String? = nil,
        environment extra: [String: String] = [:]
    ) -> Result? {
        // A working folder through the shell: posix_spawn's chdir action is a GNU extension Swift does not see.
        if let cwd {
            return run("/bin/sh", ["-c", "cd \"$0\" && exec \"$@\"", cwd, executable] + arguments, environment: extra)
        }
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { return nil }
        // Neither end leaks into other children; dup2 gives the child its own 1 and 2 without the flag.
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 2)

        var env = ProcessInfo.processInfo.environment
        for (k, v) in extra { env[k] = v }
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for p in argv + envp { free(p) } }

        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        close(fds[1])
        guard rc == 0 else {
            close(fds[0])
            return nil
        }
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = read(fds[0], &buffer, buffer.count)
            if n > 0 {
                output += buffer[0..<n]
            } else if n == 0 || errno != EINTR {
                break
            }
        }
        close(fds[0])
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        let code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return Result(status: code, output: String(decoding: output, as: UTF8.self))
    }
}
