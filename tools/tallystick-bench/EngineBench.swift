import ArgumentParser
import Crypto
import EventLog
import Foundation
import TextCoding
import TokenDomain
import TokenEngine

struct EngineBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "engine",
        abstract: "Start-up fold rate, memory per token, checkpoint load, and durable mints.",
        discussion: """
            Writes a log of --tokens token-issued events (plus their instances), then measures
            folding it from scratch with every hash checked, the resident memory the state takes
            per token, saving and loading a checkpoint, and --mints concurrent refreshes through
            the engine on the durable log.
            Example: swift run -c release tallystick-bench engine --tokens 1000000
            """)

    @Option(help: "Tokens in the log folded at start-up.")
    var tokens = 1_000_000
    @Option(help: "Instances the tokens are spread over.")
    var instances = 1
    @Option(help: "Concurrent refreshes in the durable mint test (0 skips it).")
    var mints = 20_000
    @Option(help: "Concurrent minting tasks.")
    var concurrency = 64
    @Option(help: "Keep the fold fixture in this directory and reuse it when it exists.")
    var fixture: String?

    func run() async throws {
        let base =
            FileManager.default.temporaryDirectory.path + "/tallystick-engine-bench-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: base) }
        var rows = [(String, String, String)]()

        let foldPath = fixture ?? base + "/fold"
        try await EngineBench.ensureFixture(path: foldPath, tokens: tokens, instances: instances)
        let log = try LMDBEventLog.openReadOnly(directory: foldPath)
        let before = residentBytes()
        let started = ContinuousClock.now
        var replayed = ReplayedState()
        try await replayed.fold(log)
        let foldSeconds = seconds(since: started)
        let after = residentBytes()
        let events = Double(replayed.eventsFolded)
        rows.append(
            (
                "fold at start-up, hashes checked", rate(events / foldSeconds, "events/s"),
                ">= 1,000,000 events/s"
            ))
        rows.append(
            (
                "  events folded / time",
                String(format: "%d in %.2f s", replayed.eventsFolded, foldSeconds), ""
            ))
        rows.append(
            (
                "resident memory per token",
                String(format: "%.0f bytes", Double(after - before) / Double(tokens)),
                "<= 256 bytes"
            ))
        var t = ContinuousClock.now
        let digest = StateDigest.hex(of: replayed.state)
        rows.append(("state digest", String(format: "%.2f s", seconds(since: t)), ""))
        t = ContinuousClock.now
        let snapshot = replayed.state.encodeSnapshot()
        rows.append(
            (
                "checkpoint encode",
                String(format: "%.2f s, %d MB", seconds(since: t), snapshot.count >> 20), ""
            ))
        t = ContinuousClock.now
        let restored = try snapshot.withUnsafeBytes { try ServerState(snapshot: $0) }
        rows.append(("checkpoint decode", String(format: "%.2f s", seconds(since: t)), ""))
        precondition(StateDigest.hex(of: restored) == digest)
        await log.close()

        if mints > 0 {
            let (mintRate, p50, p99) = try await durableMints(path: base + "/mint")
            rows.append(
                ("engine: durable refreshes, \(concurrency) tasks", rate(mintRate, "tokens/s"), ""))
            rows.append(("  latency p50 / p99", String(format: "%.2f / %.2f ms", p50, p99), ""))
        }
        printTable(rows)
    }

    /// Writes the fold fixture at `path` unless one is there (then it is reused as it is).
    static func ensureFixture(path: String, tokens: Int, instances: Int) async throws {
        if !FileManager.default.fileExists(atPath: path + "/data.mdb") {
            try await writeFixture(path: path, tokens: tokens, instances: instances)
        }
    }

    /// A log of `tokens` issued tokens over `instances` instances, written without flushes.
    static func writeFixture(path: String, tokens: Int, instances: Int) async throws {
        var configuration = LMDBEventLog.Configuration(directory: path)
        configuration.durability = .unsafeNoSync
        configuration.initialMapSize = 1 << 30
        let log = try LMDBEventLog.open(configuration)
        let now: Int64 = 1_790_000_000_000_000
        let ids = (0..<instances).map { InstanceID("bench-\($0)")! }
        for id in ids {
            let created = InstanceCreated(
                at: now, name: "Bench", auth: .external, email: nil, phoneNumber: nil, details: [])
            let (tag, payload) = EventCodec.encode(.instanceCreated(created))
            _ = try await log.append(
                to: id.rawValue, expecting: .noStream,
                events: [ProposedEvent(type: tag, payload: payload)])
        }
        var written = 0
        var serials = [UInt64](repeating: 0, count: instances)
        var counter: UInt64 = 0
        while written < tokens {
            let which = (written / 1_000) % instances
            let n = min(1_000, tokens - written)
            let events = (0..<n).map { i -> ProposedEvent in
                serials[which] += 1
                counter += 1
                var seed = counter
                let hash = withUnsafeBytes(of: &seed) { SHA256.hash(data: $0) }.withUnsafeBytes {
                    TokenHash($0)!
                }
                let issued = TokenIssued(
                    serial: TokenSerial(serials[which]), hash: hash,
                    scope: i % 3 == 0 ? .orderPos : .all,
                    refreshable: i % 2 == 0, issuedAt: now, expiry: .at(now + 86_400_000_000),
                    description: i % 4 == 0 ? "point of sale 12" : nil,
                    origin: .password(basic: true))
                let (tag, payload) = EventCodec.encode(.tokenIssued(issued))
                return ProposedEvent(type: tag, payload: payload)
            }
            _ = try await log.append(to: ids[which].rawValue, expecting: .any, events: events)
            written += n
        }
        await log.close()
    }

    func durableMints(path: String) async throws -> (Double, Double, Double) {
        let log = try LMDBEventLog.open(LMDBEventLog.Configuration(directory: path))
        let engine = try await TokenEngine(log: log, clock: SystemLogClock())
        let shop = InstanceID("shop")!
        try await engine.createInstance(
            .init(id: shop, name: "Shop", auth: .password("bench password")))
        let owner = try await engine.authenticate(
            .basic(user: "shop", password: "bench password"), instance: shop, allowBasic: true)
        let parent = try await engine.issueToken(
            instance: shop, by: owner, scope: TokenScope(wire: "all:refreshable")!
        ).value
        let principal = try await engine.authenticate(
            .secretToken(String(parent.accessToken.dropFirst(13))), instance: shop)
        let perTask = mints / concurrency
        let (elapsed, latencies) = try await concurrently(tasks: concurrency, each: perTask) { _ in
            _ = try await engine.issueToken(
                instance: shop, by: principal, scope: TokenScope(wire: "readonly")!
            ).value
        }
        await log.close()
        return (
            Double(perTask * concurrency) / elapsed, latencies[latencies.count / 2],
            latencies[latencies.count * 99 / 100]
        )
    }
}

/// glibc's `malloc_trim` (in malloc.h, which the Glibc module does not export).
@_silgen_name("malloc_trim")
func malloc_trim(_ pad: Int) -> Int32

/// Anonymous resident memory of this process (`RssAnon` in /proc/self/status): the heap,
/// without the pages of the LMDB map that reading the log brings in (those belong to the page
/// cache, shared and reclaimable). Free heap the allocator keeps is returned first.
func residentBytes() -> Int {
    _ = malloc_trim(0)
    return anonymousResident()
}
