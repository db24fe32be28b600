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
        subcommands: [
            EventLogBench.self, EngineBench.self, LoginBench.self, JSONBench.self,
            PostgresBench.self, PostgresVisibilityBench.self, PostgresFoldBench.self,
            TreeBench.self, CheckpointBench.self,
        ],
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
    @Option(help: "Events per commit of the raw LMDB baselines shaped like the log's commits.")
    var shapeEvents = 48
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

        for layout in [RawLayout.format1, .format2, .noLinks, .recordsOnly] {
            let shaped = try rawShaped(
                path: base + "/shaped-\(layout)", commits: 1000, perCommit: shapeEvents,
                layout: layout)
            rows.append(
                (
                    "LMDB, log-shaped: \(shapeEvents) events on \(streams) streams, \(layout)",
                    rate(shaped.rate, "events/s"),
                    layout.note
                        + String(
                            format: " (%.2f ms, %.0f KiB written)", shaped.commitMs,
                            shaped.kibPerCommit)
                ))
        }

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
                    format: "%.0f %% of the run, %.2f ms per commit (%.2f ms staging)",
                    append.busy * 100, append.commitMs, append.stagingMs), ""
            ))
        rows.append(
            (
                "  writer thread on CPU",
                String(format: "%.2f ms per commit", append.writerCPUms), ""
            ))
        rows.append(
            (
                "  written per commit",
                String(
                    format: "%.0f KiB in %.1f write calls", append.kibPerCommit,
                    append.writesPerCommit), ""
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

    /// Which indexes a log-shaped raw commit writes besides the records.
    enum RawLayout: String, CustomStringConvertible {
        /// Format 1: stream ‖ 0 ‖ version → sequence, one entry per event; event ids.
        case format1 = "format 1 indexes"
        /// Format 2: sequence → previous sequence (appended), one head per stream; event ids.
        case format2 = "format 2 indexes"
        /// What if: format 2 without the links (a record's predecessor kept in its value).
        case noLinks = "heads and ids, no links"
        /// What if: no index written with the records (indexes written later, in bulk).
        case recordsOnly = "records only"
        var description: String { rawValue }
        var note: String {
            switch self {
            case .format1, .format2: "ceiling for the log's commits"
            case .noLinks, .recordsOnly: "what-if ceiling"
            }
        }
    }

    /// A plain LMDB loop writing what the log writes for `perCommit` events spread round-robin
    /// over `streams` streams: records of the log's size, stream index entries, time-ordered
    /// event ids. No hashing, no queueing: the ceiling for the log's commits of that shape.
    func rawShaped(path: String, commits: Int, perCommit: Int, layout: RawLayout) throws -> (
        rate: Double, commitMs: Double, kibPerCommit: Double
    ) {
        let env = try LMDBEnvironment(path: path)
        defer { env.close() }
        let records = try env.openDatabase("records")
        let index = try env.openDatabase("streams")
        let links = try env.openDatabase("links")
        let ids = try env.openDatabase("event-ids")
        // A record of the log: 42 + tag + 2 + stream + 4 + payload + 64 bytes.
        let value = [UInt8](repeating: 0x5a, count: 42 + 8 + 2 + 8 + 4 + payload + 64)
        var versions = [UInt64](repeating: 0, count: streams)
        var last = [UInt64](repeating: 0, count: streams)
        var sequence: UInt64 = 0
        var next = 0
        let before = ProcessIO.now()
        let started = ContinuousClock.now
        for _ in 0..<commits {
            try env.write { txn in
                for _ in 0..<perCommit {
                    sequence += 1
                    let s = next
                    next = (next + 1) % streams
                    versions[s] += 1
                    let key = SequenceKey(sequence)
                    try txn.put(records, key: key.bytes, value: value, flags: .append)
                    let stream = Array("bench-\(s)".utf8)
                    switch layout {
                    case .format1:
                        try txn.put(
                            index, key: stream + [0] + SequenceKey(versions[s]).bytes,
                            value: key.bytes)
                    case .format2:
                        try txn.put(
                            links, key: key.bytes, value: SequenceKey(last[s]).bytes,
                            flags: .append)
                        try txn.put(
                            index, key: stream,
                            value: SequenceKey(versions[s]).bytes + key.bytes)
                    case .noLinks:
                        try txn.put(
                            index, key: stream,
                            value: SequenceKey(versions[s]).bytes + key.bytes)
                    case .recordsOnly:
                        continue
                    }
                    last[s] = sequence
                    let id = EventID.random()
                    try txn.put(
                        ids, key: id.bytes, value: key.bytes + SequenceKey(versions[s]).bytes,
                        flags: .noOverwrite)
                }
            }
        }
        let elapsed = seconds(since: started)
        let io = ProcessIO.now() - before
        return (
            Double(commits * perCommit) / elapsed, elapsed * 1_000 / Double(commits),
            Double(io.bytes) / 1_024 / Double(commits)
        )
    }

    func durableAppends(path: String) async throws -> (
        rate: Double, batch: Double, p50: Double, p99: Double, busy: Double, commitMs: Double,
        kibPerCommit: Double, writesPerCommit: Double, writerCPUms: Double, stagingMs: Double
    ) {
        let log = try LMDBEventLog.open(LMDBEventLog.Configuration(directory: path))
        let before = ProcessIO.now()
        let perAppender = appendEvents / appenders
        let run = try await appendWorkload(
            log, appenders: appenders, each: perAppender, streams: streams, payload: payload)
        let (elapsed, latencies) = (run.seconds, run.latencies)
        let stats = log.writerStatistics
        let io = ProcessIO.now() - before
        let writerCPU = threadCPUSeconds(named: "eventlog-writer")
        await log.close()
        let total = Double(perAppender * appenders)
        let busy = Double(stats.commitNanoseconds) / 1e9
        let commits = Double(max(stats.commits, 1))
        return (
            total / elapsed, Double(stats.events) / commits,
            latencies[latencies.count / 2], latencies[latencies.count * 99 / 100],
            busy / elapsed, busy * 1_000 / commits,
            Double(io.bytes) / 1_024 / commits, Double(io.calls) / commits,
            writerCPU * 1_000 / commits, Double(stats.stagingNanoseconds) / 1e6 / commits
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

/// A big-endian `UInt64` key.
struct SequenceKey {
    var bytes: [UInt8]
    init(_ value: UInt64) { bytes = withUnsafeBytes(of: value.bigEndian) { Array($0) } }
}

/// This process's write counters from `/proc/self/io` (Linux; zero elsewhere): bytes handed to
/// write calls and the number of those calls, LMDB's page writes included.
struct ProcessIO {
    var bytes = 0
    var calls = 0

    static func now() -> ProcessIO {
        var io = ProcessIO()
        guard let text = try? String(contentsOfFile: "/proc/self/io", encoding: .utf8) else {
            return io
        }
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ")
            guard parts.count == 2, let value = Int(parts[1]) else { continue }
            if parts[0] == "wchar:" { io.bytes = value }
            if parts[0] == "syscw:" { io.calls = value }
        }
        return io
    }

    static func - (a: ProcessIO, b: ProcessIO) -> ProcessIO {
        ProcessIO(bytes: a.bytes - b.bytes, calls: a.calls - b.calls)
    }
}

/// User and system CPU time of this process's thread called `name`, from `/proc/self/task/*/stat`, in seconds at the kernel's 10 ms resolution;
/// 0 when not found.
func threadCPUSeconds(named name: String) -> Double {
    let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
    for task in tasks {
        let base = "/proc/self/task/\(task)/"
        guard let comm = try? String(contentsOfFile: base + "comm", encoding: .utf8),
            comm.trimmingCharacters(in: .newlines) == name,
            let stat = try? String(contentsOfFile: base + "stat", encoding: .utf8),
            let end = stat.lastIndex(of: ")")
        else { continue }
        // Fields after "pid (comm)": state is field 3, utime 14, stime 15.
        let fields = stat[stat.index(after: end)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12])
        else { continue }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
    return 0
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

/// The durable-append workload both stores are measured with: `appenders` tasks, each
/// appending `each` one-event appends of `payload` bytes to stream `bench-(task mod
/// streams)`, expecting any version. Wall time and latencies as ``concurrently``.
func appendWorkload(
    _ log: any EventStore, appenders: Int, each: Int, streams: Int, payload: Int
) async throws -> (seconds: Double, latencies: [Double]) {
    let bytes = [UInt8](repeating: 0x42, count: payload)
    return try await concurrently(tasks: appenders, each: each) { a in
        _ = try await log.append(
            to: "bench-\(a % streams)", expecting: .any,
            events: [ProposedEvent(type: "bench.v1", payload: bytes)])
    }
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
