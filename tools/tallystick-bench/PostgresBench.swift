import ArgumentParser
import EventLog
import EventLogPostgres
import EventLogTestSupport
import Foundation

struct PostgresBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "postgres",
        abstract: "Durable appends to the PostgreSQL event log beside PostgreSQL's own ceiling.",
        discussion: """
            Starts a throwaway PostgreSQL cluster (initdb in a temporary directory, UNIX socket
            only, fsync on), then measures, in one run: pgbench with as many clients as appenders,
            each committing single-row inserts (PostgreSQL's own group commit: the ceiling), the
            log with concurrent appenders, and pgbench again. (pg_test_fsync is left out: on a
            slow disk mode it ran for many minutes.)
            Example: swift run -c release tallystick-bench postgres --append-events 100000
            """)

    @Option(help: "Concurrent appenders, each appending one event at a time.")
    var appenders = 64
    @Option(help: "Streams the appenders write to (appender i writes stream i mod N).")
    var streams = 64
    @Option(help: "Events appended.")
    var appendEvents = 100_000
    @Option(help: "Payload bytes per event.")
    var payload = 200
    @Option(help: "Seconds of each pgbench run.")
    var pgbenchSeconds = 10

    func run() async throws {
        let cluster = try TemporaryPostgres()
        defer { cluster.stop() }
        var rows = [(String, String, String)]()

        let before = try pgbench(cluster)
        rows.append(
            (
                "pgbench: \(appenders) clients, 1-row durable inserts", rate(before, "commits/s"),
                "PostgreSQL's ceiling, before"
            ))

        let url = try cluster.createDatabase(prefix: "bench")
        let log = try await PostgresEventLog.open(url: url)
        let perAppender = appendEvents / appenders
        let run = try await appendWorkload(
            log, appenders: appenders, each: perAppender, streams: streams, payload: payload)
        let stats = log.writerStatistics
        let report = try await log.verify()
        await log.close()
        precondition(report.isValid && report.records == UInt64(perAppender * appenders))

        let after = try pgbench(cluster)
        let appendRate = Double(perAppender * appenders) / run.seconds
        let commits = Double(max(stats.commits, 1))
        let ceiling = (before + after) / 2
        rows.append(
            (
                "log: \(appenders) appenders on \(streams) streams, durable",
                rate(appendRate, "events/s"), ">= 30,000 events/s"
            ))
        rows.append(
            (
                "  mean events per commit", String(format: "%.1f", Double(stats.events) / commits),
                String(
                    format: "%.2f ms per commit; %d of %d planned again under the lock",
                    stats.commitDuration.milliseconds / commits, stats.lockedCommits, stats.commits)
            ))
        rows.append(
            (
                "  append latency p50 / p99",
                String(
                    format: "%.2f / %.2f ms", run.latencies[run.latencies.count / 2],
                    run.latencies[run.latencies.count * 99 / 100]), ""
            ))
        rows.append(
            (
                "pgbench: \(appenders) clients, 1-row durable inserts", rate(after, "commits/s"),
                "PostgreSQL's ceiling, after"
            ))
        rows.append(
            (
                "log / pgbench (mean of before and after)",
                String(format: "%.2f", appendRate / max(ceiling, 1)), ""
            ))
        printTable(rows)
    }

    /// Commits per second of `appenders` pgbench clients each inserting one row of `payload`
    /// bytes per transaction into a table of a new database, durably.
    func pgbench(_ cluster: TemporaryPostgres) throws -> Double {
        let url = try cluster.createDatabase(prefix: "pgbench")
        try cluster.psql(
            "CREATE TABLE inserts (id bigserial PRIMARY KEY, stream int NOT NULL, payload bytea)",
            database: url)
        let script = cluster.directory + "/insert-\(UUID().uuidString).sql"
        try """
        \\set s random(1, \(streams))
        INSERT INTO inserts (stream, payload) VALUES (:s, decode(repeat('42', \(payload)), 'hex'));
        """.write(toFile: script, atomically: true, encoding: .utf8)
        let output = try cluster.runTool(
            "pgbench",
            [
                "-n", "-c", "\(appenders)", "-j", "2", "-T", "\(pgbenchSeconds)", "-f", script,
                "-h",
                cluster.directory, "-U", cluster.user,
                String(URLComponents(string: url)?.path.dropFirst() ?? ""),
            ])
        let tps = output.split(separator: "\n").first { $0.hasPrefix("tps = ") }
        return tps.flatMap { Double($0.split(separator: " ")[2]) } ?? 0
    }
}

extension Duration {
    fileprivate var milliseconds: Double {
        Double(components.seconds) * 1_000 + Double(components.attoseconds) / 1e15
    }
}
