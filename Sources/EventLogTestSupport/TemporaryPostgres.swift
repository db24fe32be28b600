import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A throwaway PostgreSQL cluster for tests and benchmarks: `initdb` into a new temporary
/// directory, a server that listens only on a UNIX socket in that directory (no TCP port, so
/// runs never collide), `fsync` on (the benchmark measures durable commits), trust
/// authentication for the superuser `tallystick`.
///
/// PostgreSQL refuses to run as root: when this process is root, `initdb` and the server run
/// as the `postgres` user that Debian's package creates (through `runuser`), and the directory
/// belongs to it; otherwise they run as the current user. The binaries are Debian's newest
/// `/usr/lib/postgresql/NN/bin` (or `TALLYSTICK_PG_BIN`, or those on `PATH`);
/// `tools/setup.sh` installs the package when they are missing.
///
/// The server is stopped and its directory removed by ``stop()``, or, when the process ends
/// without calling it (a test process, a crash, `kill -9`), by a small watchdog shell started
/// with it that waits for this process to go away.
public final class TemporaryPostgres: Sendable {
    /// PostgreSQL could not be set up; the description is one line saying why.
    public struct SetupError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Holds `data/`, the server's log `server.log` and its socket.
    public let directory: String
    /// The superuser, authenticated by trust over the socket.
    public let user = "tallystick"
    private let binaries: String
    private let runAs: String?
    private let stopped = Mutex(false)

    /// The cluster of this process, started on first use and shared by every test in it
    /// (each test takes a database of its own, ``createDatabase()``).
    public static func shared() throws -> TemporaryPostgres {
        try sharedCluster.withLock { cluster in
            if let cluster { return try cluster.get() }
            let started = Result { try TemporaryPostgres() }
            cluster = started
            return try started.get()
        }
    }

    private static let sharedCluster = Mutex<Result<TemporaryPostgres, any Error>?>(nil)
    private static let databaseCount = Mutex(0)

    /// Starts a new cluster (about a second).
    /// - Throws: ``SetupError`` naming what is missing or what failed.
    public init() throws {
        binaries = try TemporaryPostgres.findBinaries()
        runAs = getuid() == 0 ? "postgres" : nil
        var template = Array("/tmp/tallystick-pg-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) })
        else {
            throw SetupError(description: "cannot create a temporary directory in /tmp")
        }
        directory = String(cString: made)
        do {
            if let runAs {
                guard let account = getpwnam(runAs) else {
                    throw SetupError(
                        description:
                            "running as root, PostgreSQL needs the unprivileged user '\(runAs)' "
                            + "(created by Debian's postgresql package; run tools/setup.sh)")
                }
                guard chown(directory, account.pointee.pw_uid, account.pointee.pw_gid) == 0 else {
                    throw SetupError(description: "cannot give \(directory) to \(runAs)")
                }
            }
            try run(
                "initdb",
                [
                    "-D", directory + "/data", "-U", user, "-A", "trust", "-E", "UTF8",
                    "--no-sync", "--locale=C",
                ])
            try launchServer()
            try startWatchdog()
        } catch {
            _ = try? run("pg_ctl", ["-D", directory + "/data", "-m", "immediate", "stop"])
            try? FileManager.default.removeItem(atPath: directory)
            throw error
        }
    }

    deinit { stop() }

    /// The connection URL of `database` (`postgres://tallystick@/DB?host=DIR`).
    public func url(database: String) -> String {
        "postgres://\(user)@/\(database)?host=\(directory)"
    }

    /// A new, empty database; returns its URL.
    public func createDatabase(prefix: String = "t") throws -> String {
        let n = TemporaryPostgres.databaseCount.withLock { c -> Int in
            c += 1
            return c
        }
        let name = "\(prefix)_\(getpid())_\(n)"
        _ = try psql("CREATE DATABASE \(name)", database: "postgres")
        return url(database: name)
    }

    /// Runs `sql` with `psql` in `database` (a name, or a URL from ``url(database:)``) and
    /// returns its unaligned output.
    /// - Throws: ``SetupError`` with psql's message.
    @discardableResult
    public func psql(_ sql: String, database: String) throws -> String {
        let name =
            database.contains("://") ? URLComponents(string: database)?.path.dropFirst() : nil
        return try run(
            "psql",
            [
                "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", directory, "-U", user, "-d",
                name.map(String.init) ?? database, "-c", sql,
            ],
            asServerUser: false)
    }

    /// Runs one of PostgreSQL's programs (`pgbench`, `pg_test_fsync`) from the same
    /// installation, as this process's user; returns its standard output.
    @discardableResult
    public func runTool(_ name: String, _ arguments: [String]) throws -> String {
        try run(name, arguments, asServerUser: name == "pg_test_fsync")
    }

    /// Stops the server the way an operator restarting it would (`pg_ctl stop -m fast`:
    /// sessions are ended, their transactions rolled back) and waits until it is down. A
    /// test of a database outage takes a cluster of its own for this, never ``shared()``.
    public func stopServer() async throws {
        try await offThePool { [self] in
            try run("pg_ctl", ["-D", directory + "/data", "-m", "fast", "-w", "-t", "60", "stop"])
        }
    }

    /// Starts the server again after ``stopServer()`` and waits until it accepts
    /// connections.
    public func startServer() async throws {
        try await offThePool { [self] in try launchServer() }
    }

    /// Runs a blocking `body` (a program waited for) on a thread of its own, so that it
    /// does not hold one of the few threads Swift's tasks (and the clients under test) run on.
    private func offThePool(_ body: @escaping @Sendable () throws -> Void) async throws {
        try await withCheckedThrowingContinuation { (done: CheckedContinuation<Void, any Error>) in
            DispatchQueue.global().async { done.resume(with: Result { try body() }) }
        }
    }

    private func launchServer() throws {
        let options = [
            "-c listen_addresses=''", "-c unix_socket_directories='\(directory)'",
            "-c fsync=on", "-c synchronous_commit=on", "-c max_connections=400",
            "-c shared_buffers=128MB",
        ].joined(separator: " ")
        try run(
            "pg_ctl",
            [
                "-D", directory + "/data", "-l", directory + "/server.log", "-w", "-t", "60",
                "-o", options, "start",
            ])
    }

    /// Stops the server at once and removes the directory; later calls do nothing.
    public func stop() {
        guard
            stopped.withLock({ done in
                defer { done = true }
                return !done
            })
        else { return }
        _ = try? run("pg_ctl", ["-D", directory + "/data", "-m", "immediate", "-w", "stop"])
        try? FileManager.default.removeItem(atPath: directory)
    }

    // MARK: Processes

    private static func findBinaries() throws -> String {
        let fm = FileManager.default
        if let dir = ProcessInfo.processInfo.environment["TALLYSTICK_PG_BIN"] {
            return dir
        }
        let versions = ((try? fm.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? [])
            .compactMap { Int($0) }.sorted()
        for version in versions.reversed() {
            let bin = "/usr/lib/postgresql/\(version)/bin"
            if fm.isExecutableFile(atPath: bin + "/initdb") { return bin }
        }
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
        where fm.isExecutableFile(atPath: "\(dir)/initdb")
            && fm.isExecutableFile(atPath: "\(dir)/pg_ctl")
        {
            return String(dir)
        }
        throw SetupError(
            description:
                "PostgreSQL's initdb was not found (no /usr/lib/postgresql/NN/bin); run "
                + "tools/setup.sh or: apt-get install -y postgresql")
    }

    /// Runs `program` from the binaries (as the server's user when this is root and
    /// `asServerUser`), waits, and returns its standard output.
    @discardableResult
    private func run(_ program: String, _ arguments: [String], asServerUser: Bool = true)
        throws -> String
    {
        let path = binaries + "/" + program
        let argv =
            runAs.flatMap { user in
                asServerUser ? ["/usr/sbin/runuser", "-u", user, "--", path] : nil
            }
            ?? [path]
        let (status, out, err) = try TemporaryPostgres.spawn(argv + arguments)
        guard status == 0 else {
            let message =
                (err.isEmpty ? out : err)
                .split(separator: "\n").first(where: { !$0.isEmpty }).map(String.init) ?? ""
            throw SetupError(
                description: "PostgreSQL: \(program) failed (exit \(status)): \(message)")
        }
        return out
    }

    /// Runs `argv` with standard output and error in temporary files (no pipe a child could
    /// hold open, no other descriptor of this process, and no Foundation `Process`, whose
    /// wait missed the exit of `runuser` here),
    /// in `/` (a directory the server's user can enter), and waits for it.
    private static func spawn(_ argv: [String]) throws -> (Int32, String, String) {
        let outPath = "/tmp/tallystick-pg-out-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        let errPath = outPath + "-err"
        defer {
            unlink(outPath)
            unlink(errPath)
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        // Nothing else of this process: a pipe another test has open at this moment (the
        // crash test reads its child's output until every writer closed it) must not be held
        // by the watchdog, which lives as long as this process.
        // (glibc 2.34's posix_spawn_file_actions_addclosefrom_np, which Swift's Glibc module
        // does not declare.)
        if let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") {
            typealias CloseFrom =
                @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
            _ = unsafeBitCast(symbol, to: CloseFrom.self)(&actions, 3)
        }
        let argv = ["/bin/sh", "-c", "cd / && exec \"$@\"", "sh"] + argv
        var cArgs = argv.map { strdup($0) } + [nil]
        defer { for a in cArgs { free(a) } }
        // The child starts with no signal blocked and default handlers: it would inherit this
        // thread's mask, and pgbench's and pg_test_fsync's timers are SIGALRM.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, argv[0], &actions, &attributes, &cArgs, environ)
        guard spawned == 0 else {
            throw SetupError(
                description: "cannot start \(argv[0]): \(String(cString: strerror(spawned)))")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let read = { (path: String) in
            (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        }
        let exited = status & 0x7f == 0
        return (exited ? (status >> 8) & 0xff : 128 + (status & 0x7f), read(outPath), read(errPath))
    }

    /// A shell in its own session that waits for this process to end, then stops the server
    /// and removes the directory (a no-op after ``stop()``).
    private func startWatchdog() throws {
        let stopCommand =
            (runAs.map { "/usr/sbin/runuser -u \($0) -- " } ?? "")
            + "'\(binaries)/pg_ctl' -D '\(directory)/data' -m immediate stop"
        let script =
            "while kill -0 \(getpid()) 2>/dev/null; do sleep 1; done; "
            + "if [ -d '\(directory)/data' ]; then cd /; \(stopCommand) >/dev/null 2>&1; "
            + "rm -rf '\(directory)'; fi"
        let (status, _, err) = try TemporaryPostgres.spawn([
            "/usr/bin/setsid", "-f", "/bin/sh", "-c", script,
        ])
        guard status == 0 else {
            throw SetupError(description: "cannot start the cleanup watchdog: \(err)")
        }
    }
}
