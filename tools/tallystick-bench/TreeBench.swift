import ArgumentParser
import EventLog
import EventLogTooling
import Foundation
import TokenEngine

/// `tallystick-bench tree`: what the Merkle tree and signed tree heads cost.
struct TreeBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tree",
        abstract:
            "Signed tree heads: append throughput with and without sealing, proofs and checks on a large log.",
        discussion: """
            First the durable append workload of `eventlog` run in pairs, without the tree
            (maintainsMerkleTree off, no sealer) and with it (each commit writing its records'
            nodes, and a sealer signing a head every --seal-every seconds), alternating so that
            the disk's changing speed hits both alike; then a log of --events records
            (written without flushes) with a signed head every 100,000 records, on which it
            times inclusion and consistency proofs, their checks, and verify with the public key.
              swift run -c release tallystick-bench tree --events 1000000
            """)

    @Option(help: "Concurrent appenders of the append runs.") var appenders = 64
    @Option(help: "Events per append run.") var appendEvents = 50_000
    @Option(help: "Pairs of append runs (off, on).") var pairs = 3
    @Option(help: "Seconds between seals during the runs with sealing.") var sealEvery = 1.0
    @Option(help: "Records of the large log.") var events = 1_000_000
    @Option(help: "Proofs timed on the large log.") var proofs = 2_000
    @Option(help: "Directory for the logs (default: a new temporary one, removed after).")
    var directory: String?

    static let signer = try! TreeHeadSigner(rawKey: Array(repeating: 0x2a, count: 32))

    func run() async throws {
        let base =
            directory
            ?? (FileManager.default.temporaryDirectory.path + "/tallystick-tree-bench-\(getpid())")
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        defer { if directory == nil { try? FileManager.default.removeItem(atPath: base) } }
        var rows = [(String, String, String)]()

        var off = [Double]()
        var on = [Double]()
        var offP99 = [Double]()
        var onP99 = [Double]()
        var seals = 0
        for pair in 0..<pairs {
            let plain = try await appendRun(path: base + "/off-\(pair)", sealing: false)
            off.append(plain.rate)
            offP99.append(plain.p99)
            let sealed = try await appendRun(path: base + "/on-\(pair)", sealing: true)
            on.append(sealed.rate)
            onP99.append(sealed.p99)
            seals += sealed.seals
        }
        let meanOff = off.reduce(0, +) / Double(off.count)
        let meanOn = on.reduce(0, +) / Double(on.count)
        rows.append(
            (
                "durable appends, \(appenders) appenders, no tree, no sealing",
                rate(meanOff, "events/s"),
                off.map { rate($0, "") }.joined(separator: "/")
            ))
        rows.append(
            (
                "same, tree in every commit, sealing every \(sealEvery) s",
                rate(meanOn, "events/s"),
                on.map { rate($0, "") }.joined(separator: "/") + " (\(seals) heads)"
            ))
        rows.append(
            (
                "  append latency p99, off / on",
                offP99.map { String(format: "%.2f", $0) }.joined(separator: "/") + " / "
                    + onP99.map { String(format: "%.2f", $0) }.joined(separator: "/") + " ms", ""
            ))
        rows.append(
            (
                "  cost of tree maintenance and sealing",
                String(format: "%.1f %%", (meanOff - meanOn) / meanOff * 100), "<= 5 %"
            ))

        let large = try await largeLog(path: base + "/large")
        rows.append(
            (
                "log of \(events) records: 10 seals, one per 100,000 records",
                String(format: "%.3f s in all", large.build),
                "the commits keep the tree: a seal signs and appends"
            ))
        rows.append(
            (
                "  inclusion proof (LMDB, read + path)", timing(large.prove),
                "< 10 ms"
            ))
        rows.append(("  consistency proof (LMDB)", timing(large.consistency), "< 10 ms"))
        rows.append(
            ("  check-proof (JSON in, signature + hash + path)", timing(large.check), "< 10 ms"))
        rows.append(
            (
                "  verify + verify tree heads (\(large.heads) heads)",
                String(format: "%.2f s + %.2f s", large.verify, large.verifyHeads), "< 2 s"
            ))
        printTable(rows)
    }

    /// Mean and worst of a list of durations in ms.
    func timing(_ ms: [Double]) -> String {
        String(
            format: "mean %.3f ms, p99 %.3f ms, max %.3f ms", ms.reduce(0, +) / Double(ms.count),
            ms.sorted()[ms.count * 99 / 100], ms.max() ?? 0)
    }

    /// One durable append run; with `sealing`, the log maintains its tree and a task beside it
    /// does what the server's sealer does every `sealEvery` seconds; without, neither.
    func appendRun(path: String, sealing: Bool) async throws -> (
        rate: Double, seals: Int, p99: Double
    ) {
        var configuration = LMDBEventLog.Configuration(directory: path)
        configuration.maintainsMerkleTree = sealing
        let log = try LMDBEventLog.open(configuration)
        let done = Flag()
        let sealer = Task { () -> Int in
            guard sealing else { return 0 }
            var seals = 0
            while !done.isSet {
                try? await Task.sleep(for: .milliseconds(Int64(sealEvery * 1_000)))
                if done.isSet { break }
                if (try? await Self.seal(log)) != nil { seals += 1 }
            }
            return seals
        }
        let each = appendEvents / appenders
        let run = try await appendWorkload(
            log, appenders: appenders, each: each, streams: 64, payload: 200)
        done.set()
        let seals = await sealer.value
        await log.close()
        return (
            Double(each * appenders) / run.seconds, seals,
            run.latencies[run.latencies.count * 99 / 100]
        )
    }

    /// What ``TokenEngine/sealTreeHead(now:)`` does, without an engine (the benchmark's
    /// records are not Tallystick events): extend the tree, sign the root, record the head.
    @discardableResult
    static func seal(_ log: any EventStore) async throws -> SignedTreeHead {
        let size = try await log.head().sequence
        try await log.extendMerkleTree(through: size)
        let head = try signer.sign(
            size: size, root: try await log.merkleRoot(size: size),
            now: SystemLogClock().nowMicroseconds())
        _ = try await log.append(
            to: SignedTreeHead.stream, expecting: .any,
            events: [ProposedEvent(type: SignedTreeHead.type, payload: head.payload)])
        return head
    }

    func largeLog(path: String) async throws -> (
        build: Double, prove: [Double], consistency: [Double], check: [Double], verify: Double,
        verifyHeads: Double, heads: Int
    ) {
        var configuration = LMDBEventLog.Configuration(directory: path)
        configuration.durability = .unsafeNoSync
        configuration.initialMapSize = 1 << 30
        let log = try LMDBEventLog.open(configuration)
        let bytes = [UInt8](repeating: 0x42, count: 200)
        // Records in chunks of 100,000, a head sealed after each, as a server sealing under
        // load would leave them.
        var heads = [SignedTreeHead]()
        var written = 0
        var build = 0.0
        while written < events {
            let chunkEnd = min(written + 100_000, events)
            while written < chunkEnd {
                let n = min(1_000, chunkEnd - written)
                let batch = (0..<n).map { _ in ProposedEvent(type: "bench.v1", payload: bytes) }
                _ = try await log.append(
                    to: "large-\(written % 50)", expecting: .any, events: batch)
                written += n
            }
            let sealStarted = ContinuousClock.now
            heads.append(try await Self.seal(log))
            build += seconds(since: sealStarted)
        }
        var started = ContinuousClock.now
        let newest = heads.last!
        var generator = SystemRandomNumberGenerator()
        var prove = [Double]()
        var consistency = [Double]()
        var check = [Double]()
        var documents = [String]()
        for _ in 0..<proofs {
            let sequence = UInt64.random(in: 1...newest.treeSize, using: &generator)
            started = ContinuousClock.now
            let proof = try await log.inclusionProof(sequence: sequence, treeSize: newest.treeSize)
            prove.append(milliseconds(since: started))
            documents.append(proof.json)
            let first = heads[Int.random(in: 0..<(heads.count - 1), using: &generator)]
            started = ContinuousClock.now
            _ = try await log.consistencyProof(first: first.treeSize, second: newest.treeSize)
            consistency.append(milliseconds(since: started))
        }
        let key = Self.signer.publicKey
        for document in documents {
            started = ContinuousClock.now
            _ = try LogTool.checkProof(document, key: key)
            check.append(milliseconds(since: started))
        }
        await log.close()
        started = ContinuousClock.now
        let report = try LogTool.verify(path)
        let verify = seconds(since: started)
        precondition(report.isValid)
        let reader = try LogTool.open(path)
        started = ContinuousClock.now
        let headReport = try await LogTool.verifyTreeHeads(reader, key: key)
        let verifyHeads = seconds(since: started)
        precondition(headReport.failure == nil && headReport.heads == heads.count)
        await reader.close()
        return (build, prove, consistency, check, verify, verifyHeads, heads.count)
    }
}

/// A flag set once, read from any task.
final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}
