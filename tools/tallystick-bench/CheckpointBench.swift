import ArgumentParser
import EventLog
import Foundation
import Synchronization
import TokenDomain
import TokenEngine

struct CheckpointBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint",
        abstract: "Checkpoints of a large state: start-up, bytes written, mints across them.",
        discussion: """
            On a copy of the --tokens fixture (one instance, as `engine` writes it): starts the
            engine (a fold from scratch), saves the first checkpoint (every part), mints --mints
            tokens into the big instance with --concurrency tasks while a checkpoint is taken
            every --interval events (in the background, as the server does), and restarts from
            the last checkpoint plus its tail. Prints mint latency over the run, each
            checkpoint's copy time, duration and bytes beside the log bytes of the events it
            covers, start-up times and the anonymous resident memory (steady and peak, sampled
            every 20 ms).
            Example: swift run -c release tallystick-bench checkpoint --tokens 10000000 --fixture /tmp/f10m
            """)

    @Option(help: "Tokens in the fixture's one instance.")
    var tokens = 1_000_000
    @Option(help: "Mints during the run (0: none).")
    var mints = 250_000
    @Option(help: "Concurrent minting tasks.")
    var concurrency = 64
    @Option(help: "Events between checkpoints during the run.")
    var interval = 100_000
    @Option(help: "Keep the fixture in this directory and reuse it when it exists.")
    var fixture: String?

    func run() async throws {
        let base =
            FileManager.default.temporaryDirectory.path + "/tallystick-checkpoint-bench-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: base) }
        let fixturePath = fixture ?? base + "/fixture"
        try await EngineBench.ensureFixture(path: fixturePath, tokens: tokens, instances: 1)
        let path = base + "/log"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let source = try LMDBEventLog.openReadOnly(directory: fixturePath)
        try source.copy(to: path)
        await source.close()

        var rows = [(String, String, String)]()
        var configuration = EngineConfiguration()
        configuration.checkpointInterval = interval

        var log = try LMDBEventLog.open(LMDBEventLog.Configuration(directory: path))
        let baseline = residentBytes()
        var started = ContinuousClock.now
        let foldSampler = PeakSampler()
        var engine: TokenEngine? = try await TokenEngine(
            log: log, configuration: configuration, clock: SystemLogClock())
        let foldPeak = foldSampler.stop() - baseline
        rows.append(
            (
                "start-up, fold from scratch", String(format: "%.2f s", seconds(since: started)),
                "peak \(foldPeak >> 20) MB"
            ))
        let steady = residentBytes() - baseline
        let sampler = PeakSampler()
        rows.append(
            (
                "steady resident memory per token",
                String(format: "%.0f bytes (%d MB)", Double(steady) / Double(tokens), steady >> 20),
                ""
            ))

        started = ContinuousClock.now
        _ = try await engine!.checkpoint()
        guard let first = engine!.checkpointReports.last else {
            throw ValidationError("the first checkpoint was not saved")
        }
        rows.append(
            (
                "first checkpoint (every part)",
                String(
                    format: "%.2f s, %d MB in %d parts", seconds(since: started),
                    first.partBytes >> 20, first.parts), ""
            ))

        if mints > 0 {
            let instance = InstanceID("bench-0")!
            let minter = engine!
            let principal = try await minter.authenticate(.secretToken("bench"), instance: instance)
            let perTask = mints / concurrency
            let (elapsed, latencies) = try await concurrently(tasks: concurrency, each: perTask) {
                _ in
                _ = try await minter.issueToken(
                    instance: instance, by: principal, scope: TokenScope(wire: "readonly")!
                ).value
            }
            func at(_ q: Double) -> Double {
                latencies[min(latencies.count - 1, Int(Double(latencies.count) * q))]
            }
            rows.append(
                (
                    "mints, \(concurrency) tasks, durable",
                    rate(Double(perTask * concurrency) / elapsed, "tokens/s"), ""
                ))
            rows.append(
                (
                    "  latency p50 / p99 / p99.9 / max",
                    String(
                        format: "%.2f / %.2f / %.2f / %.2f ms", at(0.5), at(0.99), at(0.999),
                        latencies.last ?? 0),
                    "p99 <= 5 x p50: \(at(0.99) <= 5 * at(0.5) ? "met" : "MISSED")"
                ))
            // Wait for a checkpoint still running in the background.
            _ = try await minter.checkpoint()
            var previous = first.sequence
            for report in minter.checkpointReports.dropFirst() where report.sequence > previous {
                let logBytes = try await recordBytes(log, after: previous, through: report.sequence)
                rows.append(
                    (
                        "  checkpoint at \(report.sequence)",
                        String(
                            format: "copy %.3f ms, %.2f s, %d KB written (%d chunks), log %d KB",
                            report.copySeconds * 1e3, report.seconds,
                            (report.partBytes + report.manifestBytes) >> 10, report.chunksWritten,
                            logBytes >> 10),
                        "written <= log: \(report.partBytes + report.manifestBytes <= logBytes ? "met" : "MISSED")"
                    ))
                previous = report.sequence
            }
        }
        let peak = sampler.stop() - baseline
        let steadyAfter = max(steady, residentBytes() - baseline)
        rows.append(
            (
                "peak resident memory while serving",
                String(
                    format: "%d MB = %.2f x steady (%d MB at the end)", peak >> 20,
                    Double(peak) / Double(max(steadyAfter, 1)), steadyAfter >> 20),
                "<= 2 x steady: \(peak <= 2 * steadyAfter ? "met" : "MISSED")"
            ))
        let digest = engine!.digest()
        engine = nil
        await log.close()
        let restartBaseline = residentBytes()
        let restartSampler = PeakSampler()
        log = try LMDBEventLog.open(LMDBEventLog.Configuration(directory: path))
        started = ContinuousClock.now
        let restarted = try await TokenEngine(
            log: log, configuration: configuration, clock: SystemLogClock())
        let restart = seconds(since: started)
        let restartPeak = restartSampler.stop() - restartBaseline
        precondition(restarted.digest() == digest, "the restarted state differs")
        let loaded = try await ReplayedState.load(log)
        rows.append(
            (
                "start-up from checkpoint + tail", String(format: "%.2f s", restart),
                "tail \(loaded.eventsFolded) events; peak \(restartPeak >> 20) MB"
            ))
        await log.close()
        printTable(rows)
    }

    /// Bytes of the records after `after` through `through`, as stored (canonical part and
    /// hash).
    func recordBytes(_ log: LMDBEventLog, after: UInt64, through: UInt64) async throws -> Int {
        var total = 0
        try await log.scan(from: after + 1, through: through, verifyingChain: false) { view in
            total += view.canonical.count + 32
        }
        return total
    }
}

/// Samples `RssAnon` every 20 ms on a thread of its own and keeps the largest.
final class PeakSampler: @unchecked Sendable {
    private let state = Mutex((peak: 0, stop: false))
    private let done = DispatchSemaphore(value: 0)

    init() {
        Thread.detachNewThread { [self] in
            while true {
                let now = anonymousResident()
                let stop = state.withLock { s in
                    s.peak = max(s.peak, now)
                    return s.stop
                }
                if stop { break }
                usleep(20_000)
            }
            done.signal()
        }
    }

    /// Stops sampling; returns the peak.
    func stop() -> Int {
        state.withLock { $0.stop = true }
        done.wait()
        return state.withLock { $0.peak }
    }
}

/// `RssAnon` of this process (``residentBytes()`` returns free heap to the system first).
func anonymousResident() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else {
        return 0
    }
    for line in text.split(separator: "\n") where line.hasPrefix("RssAnon:") {
        return (line.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0) * 1_024
    }
    return 0
}
