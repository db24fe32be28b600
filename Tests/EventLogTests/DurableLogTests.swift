import EventLogTestSupport
import Foundation
import LMDB
import Synchronization
import Testing

@testable import EventLog

/// Behaviour only the LMDB log has: tamper evidence, map growth, format and lock checks.
@Suite("Durable log")
struct DurableLogTests {
    func makeLog(
        _ dir: TemporaryDirectory, durability: LMDBEventLog.Durability = .unsafeNoSync,
        initialMap: Int = 1 << 20, maximumMap: Int = 1 << 30
    ) throws -> LMDBEventLog {
        var c = LMDBEventLog.Configuration(directory: dir.appending("log"))
        c.durability = durability
        c.initialMapSize = initialMap
        c.maximumMapSize = maximumMap
        return try LMDBEventLog.open(c)
    }

    /// Five records over two streams.
    func fill(_ log: LMDBEventLog) async throws {
        _ = try await log.append(
            to: "shop", expecting: .noStream, events: [event("a.v1", "first"), event("b.v1", "x")])
        _ = try await log.append(
            to: "admin", expecting: .noStream, events: [event("c.v1", "second stream")])
        _ = try await log.append(
            to: "shop", expecting: .exact(2), events: [event("d.v1", ""), event("e.v1", "end")])
    }

    func rawRecord(_ log: LMDBEventLog, _ sequence: UInt64) throws -> [UInt8] {
        try log.env.read { txn in
            try txn.getBytes(log.databases.records, key: SequenceKey.bytes(sequence))!
        }
    }

    func store(_ log: LMDBEventLog, _ sequence: UInt64, _ bytes: [UInt8]?) throws {
        try log.env.write { txn in
            if let bytes {
                try txn.put(log.databases.records, key: SequenceKey.bytes(sequence), value: bytes)
            } else {
                try txn.delete(log.databases.records, key: SequenceKey.bytes(sequence))
            }
        }
    }

    /// A log written without the tree (an older build) gets no nodes from later commits
    /// until the tree is caught up; from then on each commit writes its records' nodes.
    @Test func aTreeBehindTheLogIsCaughtUpThenKeptByTheCommits() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var c = LMDBEventLog.Configuration(directory: dir.appending("log"))
        c.maintainsMerkleTree = false
        var log = try LMDBEventLog.open(c)
        try await fill(log)
        #expect(try log.merkleTreeSize() == 0)
        await log.close()
        log = try makeLog(dir)
        _ = try await log.append(to: "x", expecting: .any, events: [event()])
        #expect(try log.merkleTreeSize() == 0)
        #expect(try await log.extendMerkleTree() == 6)
        _ = try await log.append(to: "x", expecting: .any, events: [event(), event()])
        #expect(try log.merkleTreeSize() == 8)
        var frontier = MerkleFrontier()
        for record in try await log.readAll() { frontier.append(.leaf(record: record.hash)) }
        #expect(try await log.merkleRoot(size: 8) == frontier.root)
        await log.close()
        log = try makeLog(dir)
        _ = try await log.append(to: "x", expecting: .any, events: [event()])
        #expect(try log.merkleTreeSize() == 9)
        await log.close()
    }

    @Test func soundLogVerifies() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let log = try makeLog(dir)
        try await fill(log)
        let report = try log.verify()
        #expect(report.isValid)
        #expect(report.records == 5)
        #expect(report.streams == 2)
        #expect(report.head == (try log.head()))
        await log.close()
    }

    @Test func everySingleByteFlipIsReportedAtItsSequence() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let log = try makeLog(dir)
        try await fill(log)
        for sequence in UInt64(1)...5 {
            let original = try rawRecord(log, sequence)
            for index in original.indices {
                var tampered = original
                tampered[index] ^= index % 2 == 0 ? 0x01 : 0x80
                try store(log, sequence, tampered)
                let failure = try log.verify().failure
                #expect(
                    failure?.sequence == sequence,
                    "byte \(index) of record \(sequence): \(String(describing: failure))")
                #expect(throws: EventLogError.self) {
                    try log.scan(from: 1, through: nil, verifyingChain: true) { _ in }
                }
            }
            try store(log, sequence, original)
        }
        #expect(try log.verify().isValid)
        await log.close()
    }

    @Test(arguments: [UInt64(1), 3, 5])
    func aDeletedRecordIsReportedAtItsSequence(_ sequence: UInt64) async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let log = try makeLog(dir)
        try await fill(log)
        try store(log, sequence, nil)
        #expect(try log.verify().failure?.sequence == sequence)
        await log.close()
    }

    @Test func swappedRecordsAreReported() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let log = try makeLog(dir)
        try await fill(log)
        let (two, three) = (try rawRecord(log, 2), try rawRecord(log, 3))
        try store(log, 2, three)
        try store(log, 3, two)
        #expect(try log.verify().failure?.sequence == 2)
        await log.close()
    }

    @Test func aDamagedStreamHeadIsReportedAtTheStreamsNewestRecord() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let log = try makeLog(dir)
        try await fill(log)
        try log.env.write { txn in
            try StreamHead(version: 1, sequence: 4).store(
                "admin", txn: txn, heads: log.databases.streamHeads)
        }
        #expect(try log.verify().failure?.sequence == 3)
        await log.close()
    }

    @Test func aDamagedStreamLinkIsReportedAndNotFollowed() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let log = try makeLog(dir)
        try await fill(log)
        // Record 4 is "shop" version 3; its link must name record 2 ("shop" version 2).
        try log.env.write { txn in
            try txn.put(
                log.databases.streamLinks, key: SequenceKey.bytes(4), value: SequenceKey.bytes(3))
        }
        #expect(try log.verify().failure?.sequence == 4)
        #expect(throws: EventLogError.self) { _ = try log.readStream("shop", from: 1) }
        #expect(try log.readStream("shop", from: 3).map(\.sequence) == [4, 5])
        // A link to itself or forwards ends the walk with an error instead of a loop.
        try log.env.write { txn in
            try txn.put(
                log.databases.streamLinks, key: SequenceKey.bytes(4), value: SequenceKey.bytes(4))
        }
        #expect(throws: EventLogError.self) { _ = try log.readStream("shop", from: 1) }
        await log.close()
    }

    @Test func aForeignCheckpointIsRejectedAndReported() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let log = try makeLog(dir)
        try await fill(log)
        let foreign = Checkpoint(name: "tokens", sequence: 4, hash: .zero, snapshot: [9])
        try log.env.write { txn in
            try txn.put(
                log.databases.checkpoints, key: Array("tokens".utf8), value: foreign.encoded())
        }
        guard case .rejected = try log.checkpoint(named: "tokens") else {
            Issue.record("a checkpoint with a foreign hash was accepted")
            return
        }
        #expect(try log.verify().failure?.sequence == 4)
        await log.close()
    }

    @Test func aTinyMapGrowsAndKeepsAcceptingAppends() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let log = try makeLog(dir, durability: .durable, initialMap: 64 << 10)
        let initial = log.env.mapSize
        for round in 0..<40 {
            let events = (0..<10).map { _ in
                event("big.v1", String(repeating: "x", count: 1_000 + round))
            }
            _ = try await log.append(to: "grow", expecting: .any, events: events)
        }
        #expect(log.env.mapSize > initial)
        #expect(try log.head().sequence == 400)
        #expect(try log.verify().isValid)
        await log.close()
    }

    @Test func aMapAtItsMaximumFailsCleanlyAndRecoversWhenRaised() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var log = try makeLog(dir, initialMap: 256 << 10, maximumMap: 256 << 10)
        var accepted: UInt64 = 0
        var failure: (any Error)?
        while failure == nil {
            do {
                let r = try await log.append(
                    to: "full", expecting: .any,
                    events: [event("big.v1", String(repeating: "y", count: 4_000))])
                accepted = r.lastSequence
            } catch {
                failure = error
            }
        }
        #expect(failure as? EventLogError == .mapFullBeyondMaximum(maximumBytes: 256 << 10))
        #expect(try log.head().sequence == accepted)
        #expect(try log.verify().isValid)
        await log.close()
        log = try makeLog(dir, initialMap: 256 << 10, maximumMap: 4 << 20)
        let r = try await log.append(to: "full", expecting: .any, events: [event("big.v1", "more")])
        #expect(r.lastSequence == accepted + 1)
        await log.close()
    }

    @Test func aSecondWriterIsRefused() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let log = try makeLog(dir)
        #expect(throws: EventLogError.lockedByAnotherProcess(path: dir.appending("log"))) {
            _ = try makeLog(dir)
        }
        await log.close()
        let again = try makeLog(dir)
        await again.close()
    }

    @Test func anUnknownFormatVersionIsRefused() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let log = try makeLog(dir)
        try await fill(log)
        try log.env.write { txn in
            try txn.put(log.databases.meta, key: Array("format".utf8), value: [3, 0, 0, 0])
        }
        await log.close()
        #expect(throws: EventLogError.unsupportedFormat(found: 3, supported: 2)) {
            _ = try makeLog(dir)
        }
        #expect(throws: EventLogError.unsupportedFormat(found: 3, supported: 2)) {
            _ = try LMDBEventLog.openReadOnly(directory: dir.appending("log"))
        }
    }

    /// Writes the five records of ``fill(_:)`` the way format 1 stored them: records, the
    /// `streams` index (stream ‖ 0 ‖ version → sequence), event ids, format 1.
    func writeFormat1Log(at path: String) throws -> [EventRecord] {
        let env = try LMDBEnvironment(path: path)
        defer { env.close() }
        let records = try env.openDatabase("records")
        let streams = try env.openDatabase("streams")
        let ids = try env.openDatabase("event-ids")
        let meta = try env.openDatabase("meta")
        _ = try env.openDatabase("checkpoints")
        let shape: [(String, String)] = [
            ("shop", "a.v1"), ("shop", "b.v1"), ("admin", "c.v1"), ("shop", "d.v1"),
            ("shop", "e.v1"),
        ]
        var written = [EventRecord]()
        var previous = ChainHash.zero
        var versions = [String: UInt64]()
        try env.write { txn in
            for (offset, (stream, type)) in shape.enumerated() {
                let sequence = UInt64(offset + 1)
                let version = versions[stream, default: 0] + 1
                versions[stream] = version
                let proposed = event(type, "format 1 #\(sequence)")
                let (bytes, hash) = RecordCodec.encode(
                    sequence: sequence, stream: stream, streamVersion: version,
                    recordedAt: 1_000 + Int64(sequence), event: proposed, previousHash: previous)
                try txn.put(records, key: SequenceKey.bytes(sequence), value: bytes)
                try txn.put(
                    streams, key: StreamKey.make(stream, version: version),
                    value: SequenceKey.bytes(sequence))
                try txn.put(
                    ids, key: proposed.id.bytes,
                    value: SequenceKey.bytes(sequence) + SequenceKey.bytes(version))
                written.append(
                    try bytes.withUnsafeBytes { try RecordCodec.view($0).copy() })
                previous = hash
            }
            try txn.put(meta, key: Array("format".utf8), value: [1, 0, 0, 0])
        }
        return written
    }

    @Test func aFormat1LogIsRefusedReadOnlyAndUpgradedByAWritableOpen() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.appending("log")
        let original = try writeFormat1Log(at: path)

        let refusal = EventLogError.unsupportedFormat(found: 1, supported: 2)
        #expect(throws: refusal) { _ = try LMDBEventLog.openReadOnly(directory: path) }
        #expect(refusal.description.contains("open it once for writing"))

        let log = try makeLog(dir)
        #expect(try log.verify().isValid)
        #expect(try await log.readAll() == original)
        #expect(try log.readStream("shop", from: 1) == original.filter { $0.stream == "shop" })
        #expect(try log.readStream("shop", from: 3).map(\.sequence) == [4, 5])
        #expect(try log.readStream("admin", from: 1).map(\.sequence) == [3])
        #expect(try log.streamVersion("shop") == 4)
        #expect(try log.streamVersion("admin") == 1)
        let next = try await log.append(to: "admin", expecting: .exact(1), events: [event()])
        #expect(next.positions == [EventPosition(sequence: 6, streamVersion: 2)])
        #expect(try log.readStream("admin", from: 1).map(\.sequence) == [3, 6])
        let repeated = try await log.append(
            to: "shop", expecting: .any,
            events: [
                ProposedEvent(
                    id: original[4].eventID, type: original[4].type, payload: original[4].payload)
            ])
        #expect(repeated.wasDuplicate && repeated.positions.map(\.sequence) == [5])
        #expect(try log.verify().isValid)
        let format = try log.env.read { txn in
            try txn.getBytes(log.databases.meta, key: Array("format".utf8))
        }
        #expect(format == [2, 0, 0, 0])
        await log.close()

        #expect(throws: LMDBError.databaseNotFound(name: "streams")) {
            let env = try LMDBEnvironment(path: path)
            defer { env.close() }
            _ = try env.openDatabase("streams", create: false)
        }
        let reader = try LMDBEventLog.openReadOnly(directory: path)
        #expect(try reader.verify().isValid)
        #expect(try reader.streamVersion("admin") == 2)
        await reader.close()
    }

    @Test func readOnlyLogsReadButDoNotWrite() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let log = try makeLog(dir)
        try await fill(log)
        let head = try log.head()
        await log.close()
        let reader = try LMDBEventLog.openReadOnly(directory: dir.appending("log"))
        #expect(try reader.head() == head)
        #expect(try reader.verify().isValid)
        await #expect(throws: EventLogError.readOnly) {
            try await reader.append(to: "shop", expecting: .any, events: [event()])
        }
        await reader.close()
        #expect(throws: EventLogError.self) {
            _ = try LMDBEventLog.openReadOnly(directory: dir.appending("none"))
        }
    }

    /// A clock whose first reading (made by the writer while it stages a batch) also runs a
    /// hook, so a test can queue a request at exactly that moment.
    final class HookedClock: LogClock {
        let hook = Mutex<(@Sendable () -> Void)?>(nil)
        func nowMicroseconds() -> Int64 {
            let run = hook.withLock { h in
                defer { h = nil }
                return h
            }
            run?()
            return 1_000_000
        }
    }

    @Test func anAppendQueuedWhileABatchIsStagedJoinsThatCommit() async throws {
        let dir = try TemporaryDirectory()
        let clock = HookedClock()
        var c = LMDBEventLog.Configuration(directory: dir.appending("log"))
        c.durability = .unsafeNoSync
        c.clock = clock
        let log = try LMDBEventLog.open(c)
        let before = log.writerStatistics
        let late = Mutex<PendingAppend?>(nil)
        clock.hook.withLock {
            $0 = {
                let pending = log.submit(to: "b", expecting: .noStream, events: [event("late.v1")])
                late.withLock { $0 = pending }
            }
        }
        let first = try await log.append(
            to: "a", expecting: .noStream, events: [event("first.v1")])
        let queued = try #require(late.withLock { $0 })
        let second = try await queued.result()
        #expect(first.positions.map(\.sequence) == [1])
        #expect(second.positions.map(\.sequence) == [2])
        let after = log.writerStatistics
        #expect(after.commits - before.commits == 1)
        #expect(after.requests - before.requests == 2)
        #expect(after.events - before.events == 2)
        #expect(try log.verify().isValid)
    }

    @Test func aJoinedAppendThatFillsTheMapIsStagedAgainAfterTheMapGrows() async throws {
        let dir = try TemporaryDirectory()
        let clock = HookedClock()
        var c = LMDBEventLog.Configuration(directory: dir.appending("log"))
        c.durability = .unsafeNoSync
        c.clock = clock
        c.initialMapSize = 64 << 10
        let log = try LMDBEventLog.open(c)
        let mapBefore =
            try FileManager.default.attributesOfItem(
                atPath: dir.appending("log/data.mdb"))[.size] as? Int ?? 0
        // 300 events of 1 KiB join the first append's transaction: more than the 64 KiB map
        // holds, so LMDB reports a full map, the map grows and the whole batch is staged again.
        let big = (0..<300).map { _ in
            ProposedEvent(type: "big.v1", payload: [UInt8](repeating: 0x42, count: 1024))
        }
        let late = Mutex<PendingAppend?>(nil)
        clock.hook.withLock {
            $0 = {
                let pending = log.submit(to: "b", expecting: .noStream, events: big)
                late.withLock { $0 = pending }
            }
        }
        let before = log.writerStatistics
        let first = try await log.append(
            to: "a", expecting: .noStream, events: [event("first.v1")])
        let second = try await #require(late.withLock { $0 }).result()
        #expect(first.positions.map(\.sequence) == [1])
        #expect(second.positions.map(\.sequence) == Array(2...301))
        let after = log.writerStatistics
        #expect(after.commits - before.commits == 1)
        #expect(after.requests - before.requests == 2)
        #expect(try await log.readAll().count == 301)
        #expect(try log.verify().isValid)
        await log.close()
        let mapAfter =
            try FileManager.default.attributesOfItem(
                atPath: dir.appending("log/data.mdb"))[.size] as? Int ?? 0
        #expect(mapAfter > max(mapBefore, 64 << 10))
    }

    @Test func storageErrorsMapToClearCases() {
        #expect(LMDBError(code: ENOSPC) == .diskFull)
        #expect(EventLogError.from(LMDBError.diskFull, maximumMapSize: 1) == .diskFull)
        #expect(
            EventLogError.from(LMDBError.mapFull, maximumMapSize: 7)
                == .mapFullBeyondMaximum(maximumBytes: 7))
        #expect(EventLogError.diskFull.description.contains("no space"))
    }
}
