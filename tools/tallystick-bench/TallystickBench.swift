import ArgumentParser
import EventLog
import Foundation
import LMDB

@main
struct TallystickBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tallystick-bench",
        abstract: "Measures Tallystick's throughput on this machine.",
        discussion: """
            Build in release mode first; debug builds are several times slower.
              swift run -c release tallystick-bench eventlog
              swift run -c release tallystick-bench eventlog --append-events 100000 --scan-events 1000000
            """,
        subcommands: [EventLogBench.self, EngineBench.self],
        defaultSubcommand: EventLogBench.self)
}

struct EventLogBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eventlog",
        abstract: "Raw LMDB baselines, durable group-commit appends, and a verifying scan.",
        discussion: """
            Prints, side by side from one run: LMDB with one flushed commit per event and with 100
            events per flushed commit (the machine's ceilings), the durable log with many
            concurrent appenders, and a full forward scan that checks every hash.
            Example: swift run -c release tallystick-bench eventlog --appenders 64 --payload 200
            """)

    @Option(help: "Concurrent appenders, each appending one event at a time.")
    var appenders = 64
    @Option(help: "Streams the appenders write to (appender i writes stream i mod N).")
    var streams = 64
    @Option(help: "Events appended in the durable append test.")
    var appendEvents = 100_000
    @Option(help: "Payload bytes per event.")
    var payload = 200
    @Option(help: "Events in the log that the scan test reads.")
    var scanEvents = 1_000_000
    @Option(help: "Directory for the benchmark logs (default: a new temporary one, removed after).")
    var directory: String?

    func run() async throws {
        let base =
            directory
            ?? (FileManager.default.temporaryDirectory.path + "/tallystick-bench-\(getpid())")
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        defer { if directory == nil { try? FileManager.default.removeItem(atPath: base) } }
        var rows = [(String, String, String)]()

        let single = try rawLMDB(path: base + "/raw1", commits: 2_000, perCommit: 1)
        rows.append(
            (
                "LMDB, 1 event per flushed commit", rate(single, "commits/s"),
                "machine ceiling (~5,000)"
            ))
        let hundred = try rawLMDB(path: base + "/raw100", commits: 300, perCommit: 100)
        rows.append(
            (
                "LMDB, 100 events per flushed commit", rate(hundred * 100, "events/s"),
                "machine ceiling (~200,000)"
            ))

        let append = try await durableAppends(path: base + "/append")
        rows.append(
            (
                "log: \(appenders) appenders on \(streams) streams, durable",
                rate(append.rate, "events/s"), ">= 50,000 events/s"
            ))
        rows.append(("  mean events per commit", String(format: "%.1f", append.batch), ""))
        rows.append(
            (
                "  writer busy committing",
                String(
                    format: "%.0f %% of the run, %.2f ms per commit", append.busy * 100,
                    append.commitMs), ""
            ))
        rows.append(
            (
                "  append latency p50 / p99",
                String(format: "%.2f / %.2f ms", append.p50, append.p99), ""
            ))

        let scan = try await verifyingScan(path: base + "/scan")
        rows.append(
            (
                "LMDB cursor scan, same log", rate(scan.raw, "events/s"),
                "machine ceiling (~20,700,000)"
            ))
        rows.append(("log: forward scan, decode only", rate(scan.decode, "events/s"), ""))
        rows.append(
            (
                "log: forward scan verifying hashes", rate(scan.scan, "events/s"),
                ">= 2,000,000 events/s"
            ))
        rows.append(
            (
                "log: verify() incl. indexes",
                String(format: "%.2f s for %d events", scan.verify, scanEvents), ""
            ))

        printTable(rows)
    }

    /// Commits per second of a plain LMDB loop: `perCommit` events of `payload` bytes each.
    func rawLMDB(path: String, commits: Int, perCommit: Int) throws -> Double {
        let env = try LMDBEnvironment(path: path)
        defer { env.close() }
        let db = try env.openDatabase("records")
        let value = [UInt8](repeating: 0x5a, count: payload)
        var key: UInt64 = 0
        let started = ContinuousClock.now
        for _ in 0..<commits {
            try env.write { txn in
                for _ in 0..<perCommit {
                    key += 1
                    var be = key.bigEndian
                    try withUnsafeBytes(of: &be) { k in
                        try value.withUnsafeBytes {
                            try txn.put(db, key: k, value: $0, flags: .append)
                        }
                    }
                }
            }
        }
        return Double(commits) / seconds(since: started)
    }

    func durableAppends(path: String) async throws -> (
        rate: Double, batch: Double, p50: Double, p99: Double, busy: Double, commitMs: Double
    ) {
        let log = try LMDBEventLog.open(LMDBEventLog.Configuration(directory: path))
        let perAppender = appendEvents / appenders
        let bytes = [UInt8](repeating: 0x42, count: payload)
        let streams = self.streams
        let run = try await concurrently(tasks: appenders, each: perAppender) { a in
            _ = try await log.append(
                to: "bench-\(a % streams)", expecting: .any,
                events: [ProposedEvent(type: "bench.v1", payload: bytes)])
        }
        let (elapsed, latencies) = (run.seconds, run.latencies)
        let stats = log.writerStatistics
        await log.close()
        let total = Double(perAppender * appenders)
        let busy = Double(stats.commitNanoseconds) / 1e9
        return (
            total / elapsed, Double(stats.events) / Double(max(stats.commits, 1)),
            latencies[latencies.count / 2], latencies[latencies.count * 99 / 100],
            busy / elapsed, busy * 1_000 / Double(max(stats.commits, 1))
        )
    }

    func verifyingScan(path: String) async throws -> (
        raw: Double, decode: Double, scan: Double, verify: Double
    ) {
        var configuration = LMDBEventLog.Configuration(directory: path)
        // Only the scan is timed, so the fixture is written without flushes.
        configuration.durability = .unsafeNoSync
        configuration.initialMapSize = 512 << 20
        let log = try LMDBEventLog.open(configuration)
        let bytes = [UInt8](repeating: 0x42, count: payload)
        var written = 0
        while written < scanEvents {
            let n = min(1_000, scanEvents - written)
            let events = (0..<n).map { _ in ProposedEvent(type: "bench.v1", payload: bytes) }
            _ = try await log.append(to: "scan-\(written % 50)", expecting: .any, events: events)
            written += n
        }
        await log.close()
        let raw = try rawScan(path: path)
        let reader = try LMDBEventLog.openReadOnly(directory: path)
        var seen = 0
        var started = ContinuousClock.now
        try reader.scan(from: 1, through: nil, verifyingChain: false) { _ in seen += 1 }
        let decode = Double(seen) / seconds(since: started)
        seen = 0
        started = ContinuousClock.now
        try reader.scan(from: 1, through: nil, verifyingChain: true) { _ in seen += 1 }
        let scan = Double(seen) / seconds(since: started)
        started = ContinuousClock.now
        let report = try reader.verify()
        let verify = seconds(since: started)
        precondition(report.isValid && seen == scanEvents)
        await reader.close()
        return (raw, decode, scan, verify)
    }

    /// Entries per second of a bare LMDB cursor walk over the log's records.
    func rawScan(path: String) throws -> Double {
        var options = LMDBEnvironment.Options()
        options.readOnly = true
        let env = try LMDBEnvironment(path: path, options: options)
        defer { env.close() }
        let db = try env.openDatabase("records", create: false)
        let started = ContinuousClock.now
        var bytes = 0
        let count = try env.read { txn in
            try txn.withCursor(db) { cursor in
                var n = 0
                var entry = try cursor.first()
                while let e = entry {
                    n += 1
                    bytes &+= e.value.count
                    entry = try cursor.next()
                }
                return n
            }
        }
        precondition(bytes > 0)
        return Double(count) / seconds(since: started)
    }
}

/// Runs `each` calls of `body` in each of `tasks` concurrent tasks; returns the wall time and
/// every call's latency in ms, sorted.
func concurrently(tasks: Int, each: Int, _ body: @escaping @Sendable (Int) async throws -> Void)
    async throws
    -> (seconds: Double, latencies: [Double])
{
    let started = ContinuousClock.now
    let latencies = try await withThrowingTaskGroup(of: [Double].self) { group in
        for task in 0..<tasks {
            group.addTask {
                var mine = [Double]()
                mine.reserveCapacity(each)
                for _ in 0..<each {
                    let t = ContinuousClock.now
                    try await body(task)
                    mine.append(milliseconds(since: t))
                }
                return mine
            }
        }
        var all = [Double]()
        for try await l in group { all += l }
        return all.sorted()
    }
    return (seconds(since: started), latencies)
}

/// `12,345 unit`.
func rate(_ value: Double, _ unit: String) -> String {
    let digits = String(Int(value.rounded()))
    var out = ""
    for (i, c) in digits.enumerated() {
        if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
        out.append(c)
    }
    return out + " " + unit
}

/// Prints rows of (figure, measured, target) as aligned columns.
func printTable(_ rows: [(String, String, String)]) {
    let width = rows.map(\.0.count).max()! + 2
    let valueWidth = rows.map(\.1.count).max()! + 2
    print("")
    for (name, value, target) in rows {
        print(
            name.padding(toLength: width, withPad: " ", startingAt: 0)
                + value.padding(toLength: valueWidth, withPad: " ", startingAt: 0) + target)
    }
}

func seconds(since start: ContinuousClock.Instant) -> Double {
    let d = ContinuousClock.now - start
    return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}

func milliseconds(since start: ContinuousClock.Instant) -> Double { seconds(since: start) * 1_000 }
