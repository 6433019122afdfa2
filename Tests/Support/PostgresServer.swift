import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A throwaway PostgreSQL 15 cluster in a temporary folder on a free loopback port, with a `warden` database.
/// initdb and postgres refuse to run as root, so the cluster belongs to the `postgres` user (`runuser`) when the
/// tests run as root. `restart` and `crash` let a test take the database away under load.
public final class PostgresServer: Sendable {
    public static let bin = "/usr/lib/postgresql/15/bin"
    public let port: Int
    public let directory: URL
    public var dataDirectory: String { directory.appendingPathComponent("data").path }
    public let user = "warden"
    public let database = "warden"

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    private init(port: Int, directory: URL) {
        self.port = port
        self.directory = directory
    }

    public static func start() throws -> PostgresServer {
        let directory = try ServerProcess.makeDirectory("postgres")
        let server = PostgresServer(port: try MosquittoBroker.freeLoopbackPort(), directory: directory)
        if getuid() == 0 {
            _ = Command.run("/bin/chown", ["postgres:postgres", directory.path])
            chmod(directory.path, 0o755)
        }
        let (code, out) = server.asOwner(
            "\(bin)/initdb",
            ["-D", server.dataDirectory, "-U", server.user, "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "-N"]
        )
        guard code == 0 else { throw Failure(description: "initdb failed:\n\(out)") }
        try server.launch()
        let (c2, o2) = server.psql("CREATE DATABASE \(server.database)", database: "postgres")
        guard c2 == 0 else { throw Failure(description: "CREATE DATABASE failed:\n\(o2)") }
        return server
    }

    func launch() throws {
        let (code, out) = asOwner(
            "\(Self.bin)/pg_ctl",
            [
                "-D", dataDirectory, "-l", directory.appendingPathComponent("postgres.log").path, "-w", "-o",
                "-c listen_addresses=127.0.0.1 -p \(port) -k \(directory.path) -c fsync=on", "start",
            ]
        )
        guard code == 0 else { throw Failure(description: "pg_ctl start failed:\n\(out)\n\(log)") }
    }

    /// A clean restart (fast shutdown: sessions ended, committed data kept).
    public func restart() throws {
        _ = asOwner("\(Self.bin)/pg_ctl", ["-D", dataDirectory, "-m", "fast", "-w", "stop"])
        try launch()
    }

    /// An immediate stop (no checkpoint: recovery at the next start), then start again.
    public func crashAndRecover() throws {
        _ = asOwner("\(Self.bin)/pg_ctl", ["-D", dataDirectory, "-m", "immediate", "-w", "stop"])
        try launch()
    }

    public func stop() {
        _ = asOwner("\(Self.bin)/pg_ctl", ["-D", dataDirectory, "-m", "immediate", "-w", "stop"])
        try? FileManager.default.removeItem(at: directory)
    }

    public var log: String {
        (try? String(contentsOf: directory.appendingPathComponent("postgres.log"), encoding: .utf8)) ?? ""
    }

    /// Runs SQL with psql (unaligned, tuples only); returns the exit code and output.
    @discardableResult
    public func psql(_ sql: String, database: String? = nil) -> (Int32, String) {
        Command.run(
            "/usr/bin/psql",
            [
                "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", "\(port)", "-U", user, "-d",
                database ?? self.database, "-c", sql,
            ]
        )
    }

    /// One value from a query, trimmed.
    public func value(_ sql: String) -> String {
        psql(sql).1.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Runs a server tool as the cluster's owner, with posix_spawn and every descriptor above stderr closed: a
    /// postmaster that `pg_ctl start` leaves behind would otherwise inherit the descriptor Foundation's `Process`
    /// watches for the child's exit, and the wait would never end. Output goes to a file.
    func asOwner(_ exe: String, _ args: [String]) -> (Int32, String) {
        let out = directory.appendingPathComponent("tool-\(UUID().uuidString).out").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let argv = (getuid() == 0 ? ["/usr/sbin/runuser", "-u", "postgres", "--", exe] : [exe]) + args
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let open =
            (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd"))?.compactMap { Int32($0) } ?? []
        for fd in open where fd > 2 && fcntl(fd, F_GETFD) != -1 { posix_spawn_file_actions_addclose(&actions, fd) }
        var cargs = argv.map { strdup($0) } + [nil]
        defer { for a in cargs { free(a) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, nil, &cargs, environ)
        guard rc == 0 else { return (-1, "\(argv[0]): \(String(cString: strerror(rc)))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let code = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        return (code, (try? String(contentsOfFile: out, encoding: .utf8)) ?? "")
    }
}
