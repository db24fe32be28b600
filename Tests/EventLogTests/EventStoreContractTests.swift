import EventLog
import EventLogPostgres
import EventLogTestSupport
import Foundation
import Testing

/// The backends the contract suite runs against. `postgres` takes a new database in the test
/// process's throwaway cluster (``TemporaryPostgres``); when PostgreSQL cannot be set up its
/// cases fail with the reason, never skip.
enum Backend: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case memory, lmdb, postgres
    var testDescription: String { rawValue }
}

/// A log under test, reopenable, with its clock and its directory cleaned up at the end.
final class Subject: @unchecked Sendable {
    let backend: Backend
    let clock = ManualLogClock()
    let directory: TemporaryDirectory
    private(set) var log: any EventStore
    private let storage = InMemoryEventLog.Storage()
    /// The database of a `postgres` subject.
    let databaseURL: String?

    init(_ backend: Backend) async throws {
        self.backend = backend
        directory = try TemporaryDirectory(prefix: "contract")
        databaseURL = backend == .postgres ? try TemporaryPostgres.shared().createDatabase() : nil
        log = InMemoryEventLog(storage: storage)  // replaced below
        log = try await open()
    }

    private func open() async throws -> any EventStore {
        switch backend {
        case .memory: return InMemoryEventLog(storage: storage, clock: clock)
        case .lmdb:
            var configuration = LMDBEventLog.Configuration(directory: directory.appending("log"))
            configuration.clock = clock
            configuration.initialMapSize = 1 << 20
            return try LMDBEventLog.open(configuration)
        case .postgres:
            return try await PostgresEventLog.openForTest(url: databaseURL!, clock: clock)
        }
    }

    /// Closes the log and opens it again over the same storage.
    func reopen() async throws {
        await log.close()
        log = try await open()
    }

    func finish() async {
        await log.close()
        directory.remove()
    }
}

func event(
    _ type: String = "thing-happened.v1", _ text: String = "payload", id: EventID = .random()
) -> ProposedEvent {
    ProposedEvent(id: id, type: type, payload: Array(text.utf8))
}

@Suite("Event store contract")
struct EventStoreContractTests {
    @Test(arguments: Backend.allCases)
    func emptyLog(_ backend: Backend) async throws {
        let s = try await Subject(backend)
        await #expect(try s.log.head() == .empty)
        await #expect(try s.log.read(from: 1, limit: 10).isEmpty)
        await #expect(try s.log.readStream("shop", from: 1).isEmpty)
        await #expect(try s.log.streamVersion("shop") == 0)
        var seen = 0
        let head = try await s.log.scan(from: 1, through: nil, verifyingChain: true) { _ in
            seen += 1
        }
        #expect(seen == 0)
        #expect(head.sequence == 0)
        await #expect(try s.log.checkpoint(named: "p") == .none)
        await s.finish()
    }

    @Test(arguments: Backend.allCases)
    func appendAndReadBack(_ backend: Backend) async throws {
        let s = try await Subject(backend)
        let first = [event("a.v1", "one"), event("b.v1", "two"), event("c.v1", "three")]
        let r1 = try await s.log.append(to: "shop", expecting: .noStream, events: first)
        #expect(
            r1.positions == [
                .init(sequence: 1, streamVersion: 1), .init(sequence: 2, streamVersion: 2),
                .init(sequence: 3, streamVersion: 3),
            ])
        #expect(!r1.wasDuplicate)
        s.clock.advance(by: 5)
        let r2 = try await s.log.append(
            to: "admin", expecting: .noStream, events: [event("d.v1", "four")])
        #expect(r2.positions == [.init(sequence: 4, streamVersion: 1)])
        let r3 = try await s.log.append(
            to: "shop", expecting: .exact(3), events: [event("e.v1", "")])
        #expect(r3.positions == [.init(sequence: 5, streamVersion: 4)])

        let all = try await s.log.readAll()
        #expect(all.map(\.sequence) == [1, 2, 3, 4, 5])
        #expect(all.map(\.type) == ["a.v1", "b.v1", "c.v1", "d.v1", "e.v1"])
        #expect(all.map(\.stream) == ["shop", "shop", "shop", "admin", "shop"])
        #expect(
            all.map { String(decoding: $0.payload, as: UTF8.self) } == [
                "one", "two", "three", "four", "",
            ])
        #expect(all[0].eventID == first[0].id)
        #expect(all[0].recordedAt == 1_700_000_000_000_000)
        #expect(all[3].recordedAt == 1_700_000_000_000_005)
        #expect(all[0].previousHash == .zero)
        for i in 1..<all.count { #expect(all[i].previousHash == all[i - 1].hash) }
        await #expect(
            try s.log.head()
                == LogHead(sequence: 5, hash: all[4].hash, recordedAt: all[4].recordedAt))
        await #expect(try s.log.readStream("shop", from: 1).map(\.sequence) == [1, 2, 3, 5])
        await #expect(try s.log.readStream("shop", from: 3).map(\.sequence) == [3, 5])
        await #expect(try s.log.streamVersion("shop") == 4)
        await #expect(try s.log.streamVersion("admin") == 1)
        await #expect(try s.log.read(from: 2, limit: 2).map(\.sequence) == [2, 3])
        var scanned = [UInt64]()
        try await s.log.scan(from: 3, through: 4, verifyingChain: true) {
            scanned.append($0.sequence)
        }
        #expect(scanned == [3, 4])
        await s.finish()
    }

    @Test(arguments: Backend.allCases)
    func expectedVersionConflictsWriteNothing(_ backend: Backend) async throws {
        let s = try await Subject(backend)
        _ = try await s.log.append(to: "shop", expecting: .noStream, events: [event(), event()])
        let before = try await s.log.head()
        await #expect(
            throws: EventLogError.wrongExpectedVersion(
                stream: "shop", expected: .noStream, actual: 2)
        ) {
            try await s.log.append(to: "shop", expecting: .noStream, events: [event()])
        }
        await #expect(
            throws: EventLogError.wrongExpectedVersion(
                stream: "shop", expected: .exact(1), actual: 2)
        ) {
            try await s.log.append(to: "shop", expecting: .exact(1), events: [event()])
        }
        await #expect(
            throws: EventLogError.wrongExpectedVersion(
                stream: "new", expected: .exact(3), actual: 0)
        ) {
            try await s.log.append(to: "new", expecting: .exact(3), events: [event()])
        }
        await #expect(try s.log.head() == before)
        let ok = try await s.log.append(to: "shop", expecting: .any, events: [event()])
        #expect(ok.positions == [.init(sequence: 3, streamVersion: 3)])
        await s.finish()
    }

    @Test(arguments: Backend.allCases)
    func idempotentReappendReturnsOriginalPositions(_ backend: Backend) async throws {
        let s = try await Subject(backend)
        let batch = [event(), event()]
        let original = try await s.log.append(to: "shop", expecting: .noStream, events: batch)
        _ = try await s.log.append(to: "shop", expecting: .any, events: [event()])
        let head = try await s.log.head()
        // A retry after a lost answer: the expected version is stale now, yet it succeeds.
        let again = try await s.log.append(to: "shop", expecting: .noStream, events: batch)
        #expect(again.wasDuplicate)
        #expect(again.positions == original.positions)
        await #expect(try s.log.head() == head)
        // Half old, half new: neither a repeat nor new.
        await #expect(throws: EventLogError.self) {
            try await s.log.append(to: "shop", expecting: .any, events: [batch[0], event()])
        }
        // An id of another stream.
        await #expect(throws: EventLogError.self) {
            try await s.log.append(to: "other", expecting: .any, events: [batch[1]])
        }
        await #expect(try s.log.head() == head)
        await s.finish()
    }

    @Test(arguments: Backend.allCases)
    func invalidBatchesAreRefused(_ backend: Backend) async throws {
        let s = try await Subject(backend)
        let id = EventID.random()
        let bad: [(String, [ProposedEvent])] = [
            ("shop", []),
            ("", [event()]),
            ("sh\u{0}op", [event()]),
            (String(repeating: "x", count: 201), [event()]),
            ("shop", [event("")]),
            ("shop", [event("has space.v1")]),
            ("shop", [event(id: id), event(id: id)]),
        ]
        for (stream, events) in bad {
            await #expect(throws: EventLogError.self) {
                try await s.log.append(to: stream, expecting: .any, events: events)
            }
        }
        await #expect(try s.log.head() == .empty)
        await s.finish()
    }

    @Test(arguments: Backend.allCases)
    func manyConcurrentAppendersGetGaplessUniquePositions(_ backend: Backend) async throws {
        let s = try await Subject(backend)
        let log = s.log
        let appenders = 64, each = 20
        let results = try await withThrowingTaskGroup(of: [(EventID, EventPosition, String)].self) {
            group in
            for a in 0..<appenders {
                group.addTask {
                    var mine = [(EventID, EventPosition, String)]()
                    // Half write their own stream with exact versions, half share one stream.
                    let stream = a % 2 == 0 ? "own-\(a)" : "shared"
                    var version: UInt64 = 0
                    for _ in 0..<each {
                        let e = event()
                        let r = try await log.append(
                            to: stream, expecting: a % 2 == 0 ? .exact(version) : .any, events: [e])
                        version = r.streamVersion
                        mine.append((e.id, r.positions[0], stream))
                    }
                    return mine
                }
            }
            var all = [(EventID, EventPosition, String)]()
            for try await r in group { all += r }
            return all
        }
        let total = appenders * each
        #expect(Set(results.map(\.1.sequence)) == Set(1...UInt64(total)))
        let records = try await log.readAll()
        #expect(records.count == total)
        for (id, position, stream) in results {
            let r = records[Int(position.sequence) - 1]
            #expect(
                r.eventID == id && r.stream == stream && r.streamVersion == position.streamVersion)
        }
        var versions = [String: UInt64]()
        for r in records {
            versions[r.stream, default: 0] += 1
            #expect(r.streamVersion == versions[r.stream])
        }
        #expect(versions["shared"] == UInt64(appenders / 2 * each))
        try await log.scan(from: 1, through: nil, verifyingChain: true) { _ in }
        await s.finish()
    }

    @Test(arguments: Backend.allCases)
    func submittedAppendsCommitInOrderAndFailTogether(_ backend: Backend) async throws {
        let s = try await Subject(backend)
        // Three appends queued before any has committed, each expecting the one before it.
        let first = s.log.submit(to: "shop", expecting: .noStream, events: [event()])
        let second = s.log.submit(to: "shop", expecting: .exact(1), events: [event(), event()])
        let third = s.log.submit(to: "shop", expecting: .exact(3), events: [event()])
        #expect(try await first.result().positions == [.init(sequence: 1, streamVersion: 1)])
        #expect(try await second.result().lastSequence == 3)
        #expect(try await third.result().positions == [.init(sequence: 4, streamVersion: 4)])
        // When one in the chain is refused, the ones queued on top of it are refused too.
        let refused = s.log.submit(to: "shop", expecting: .exact(9), events: [event()])
        let onTop = s.log.submit(to: "shop", expecting: .exact(5), events: [event()])
        await #expect(throws: EventLogError.self) { try await refused.result() }
        await #expect(throws: EventLogError.self) { try await onTop.result() }
        await #expect(try s.log.head().sequence == 4)
        await s.finish()
    }

    @Test(arguments: Backend.allCases)
    func reopenContinuesTheChain(_ backend: Backend) async throws {
        let s = try await Subject(backend)
        _ = try await s.log.append(to: "shop", expecting: .noStream, events: [event(), event()])
        let head = try await s.log.head()
        try await s.reopen()
        await #expect(try s.log.head() == head)
        await #expect(try s.log.streamVersion("shop") == 2)
        let r = try await s.log.append(to: "shop", expecting: .exact(2), events: [event()])
        #expect(r.positions == [.init(sequence: 3, streamVersion: 3)])
        let all = try await s.log.readAll()
        #expect(all[2].previousHash == head.hash)
        try await s.log.scan(from: 1, through: nil, verifyingChain: true) { _ in }
        await s.finish()
    }

    @Test(arguments: Backend.allCases)
    func recordedTimeNeverGoesBack(_ backend: Backend) async throws {
        let s = try await Subject(backend)
        _ = try await s.log.append(to: "a", expecting: .any, events: [event()])
        s.clock.set(1_000)
        _ = try await s.log.append(to: "a", expecting: .any, events: [event()])
        let all = try await s.log.readAll()
        #expect(all[1].recordedAt == all[0].recordedAt)
        await s.finish()
    }

    @Test(arguments: Backend.allCases)
    func followersSeeOldAndNewRecords(_ backend: Backend) async throws {
        let s = try await Subject(backend)
        let log = s.log
        _ = try await log.append(to: "a", expecting: .any, events: [event(), event()])
        let follower = Task {
            var seen = [UInt64]()
            for try await record in log.follow(from: 2) {
                seen.append(record.sequence)
                if seen.count == 4 { break }
            }
            return seen
        }
        for _ in 0..<3 { _ = try await log.append(to: "b", expecting: .any, events: [event()]) }
        #expect(try await follower.value == [2, 3, 4, 5])
        await s.finish()
    }

    @Test(arguments: Backend.allCases)
    func checkpointsAreVerifiedAgainstTheLog(_ backend: Backend) async throws {
        let s = try await Subject(backend)
        _ = try await s.log.append(to: "a", expecting: .any, events: [event(), event(), event()])
        let records = try await s.log.readAll()
        let good = Checkpoint(
            name: "tokens", sequence: 2, hash: records[1].hash, snapshot: [1, 2, 3])
        try await s.log.saveCheckpoint(good)
        await #expect(try s.log.checkpoint(named: "tokens") == .valid(good))
        let foreign = Checkpoint(name: "tokens", sequence: 2, hash: records[0].hash, snapshot: [])
        await #expect(throws: EventLogError.self) { try await s.log.saveCheckpoint(foreign) }
        let beyond = Checkpoint(name: "tokens", sequence: 9, hash: records[0].hash, snapshot: [])
        await #expect(throws: EventLogError.self) { try await s.log.saveCheckpoint(beyond) }
        await #expect(try s.log.checkpoint(named: "tokens") == .valid(good))
        try await s.reopen()
        await #expect(try s.log.checkpoint(named: "tokens") == .valid(good))
        await s.finish()
    }

    @Test(arguments: Backend.allCases)
    func aCheckpointOfPartsIsWholeOrRefused(_ backend: Backend) async throws {
        let s = try await Subject(backend)
        _ = try await s.log.append(to: "a", expecting: .any, events: [event(), event(), event()])
        let records = try await s.log.readAll()
        try await s.log.saveCheckpointParts(name: "tokens", parts: [([1], [10, 11]), ([2], [20])])
        try await s.log.saveCheckpointParts(name: "tokens", parts: [([3], [30])])
        let first = Checkpoint(
            name: "tokens", sequence: 2, hash: records[1].hash, snapshot: [7], parts: [[2], [1]])
        try await s.log.saveCheckpoint(first)
        await #expect(try s.log.checkpoint(named: "tokens") == .valid(first))
        let read = try await s.log.withCheckpointParts(of: first) { $0.map { Array($0) } }
        #expect(read == [[20], [10, 11]])

        // Part 3 was named by no saved checkpoint: saving `first` removed it.
        let unnamed = Checkpoint(
            name: "tokens", sequence: 3, hash: records[2].hash, snapshot: [], parts: [[3]])
        await #expect(throws: EventLogError.self) { try await s.log.saveCheckpoint(unnamed) }
        await #expect(throws: EventLogError.self) {
            try await s.log.withCheckpointParts(of: unnamed) { $0.count }
        }
        // A part saved for a checkpoint that is never saved (a crash between parts) leaves
        // the saved one whole; the next checkpoint reuses a part without writing it again.
        try await s.log.saveCheckpointParts(name: "tokens", parts: [([4], [40])])
        try await s.reopen()
        await #expect(try s.log.checkpoint(named: "tokens") == .valid(first))
        let second = Checkpoint(
            name: "tokens", sequence: 3, hash: records[2].hash, snapshot: [8], parts: [[1], [4]])
        try await s.log.saveCheckpoint(second)
        await #expect(try s.log.checkpoint(named: "tokens") == .valid(second))
        #expect(
            try await s.log.withCheckpointParts(of: second) { $0.map { Array($0) } } == [
                [10, 11], [40],
            ])
        // Part 2, which only `first` named, is gone with it.
        await #expect(throws: EventLogError.self) {
            try await s.log.withCheckpointParts(of: first) { $0.count }
        }
        await #expect(throws: EventLogError.self) {
            try await s.log.saveCheckpointParts(name: "tokens", parts: [([], [1])])
        }
        await s.finish()
    }

    /// The root every store gives for `size`, recomputed here from the records' hashes.
    func expectedRoot(_ log: any EventStore, size: UInt64) async throws -> MerkleHash {
        var frontier = MerkleFrontier()
        for record in try await log.readAll().prefix(Int(size)) {
            frontier.append(.leaf(record: record.hash))
        }
        return frontier.root
    }

    @Test(arguments: Backend.allCases)
    func theMerkleTreeIsStoredAndContinuesAfterReopen(_ backend: Backend) async throws {
        let s = try await Subject(backend)
        await #expect(try s.log.merkleTreeSize() == 0)
        for n in 0..<5 {
            _ = try await s.log.append(
                to: "s\(n % 2)", expecting: .any, events: (0...n).map { _ in event() })
        }
        // 15 records. A store keeps the tree with its commits (LMDB: `before` is 15) or
        // leaves it to be extended when asked, and only as far as asked (the others: 0).
        let before = try await s.log.merkleTreeSize()
        #expect(before == (backend == .lmdb ? 15 : 0))
        await #expect(try s.log.extendMerkleTree(through: 6) == max(before, 6))
        await #expect(try s.log.merkleTreeSize() == max(before, 6))
        await #expect(try s.log.extendMerkleTree() == 15)
        for size in UInt64(1)...15 {
            await #expect(
                try s.log.merkleRoot(size: size) == (try await expectedRoot(s.log, size: size)))
        }
        let root = try await s.log.merkleRoot(size: 15)
        let records = try await s.log.readAll()
        for record in records {
            let path = try await s.log.auditPath(sequence: record.sequence, treeSize: 15)
            try MerkleTree.verifyInclusion(
                leaf: record.sequence - 1, size: 15, leafHash: .leaf(record: record.hash),
                path: path, root: root)
        }
        let older = try await s.log.merkleRoot(size: 6)
        try MerkleTree.verifyConsistency(
            first: 6, second: 15, firstRoot: older, secondRoot: root,
            proof: try await s.log.consistencyPath(first: 6, second: 15))
        // Proofs only within the stored tree; nodes only without gaps and within the log.
        await #expect(throws: EventLogError.self) { try await s.log.merkleRoot(size: 16) }
        await #expect(throws: EventLogError.self) {
            try await s.log.storeMerkleNodes(
                MerkleTreeNodes(firstSequence: 17, nodes: [[root]]))
        }
        await #expect(throws: EventLogError.self) {
            try await s.log.storeMerkleNodes(
                MerkleTreeNodes(firstSequence: 16, nodes: [[root, root, root, root, root]]))
        }
        // Nodes already stored are skipped, whoever sends them again.
        try await s.log.storeMerkleNodes(MerkleTreeNodes(firstSequence: 15, nodes: [[root]]))
        await #expect(try s.log.merkleRoot(size: 15) == root)

        try await s.reopen()
        await #expect(try s.log.merkleTreeSize() == 15)
        _ = try await s.log.append(to: "s0", expecting: .any, events: [event(), event()])
        await #expect(try s.log.extendMerkleTree() == 17)
        await #expect(try s.log.merkleRoot(size: 17) == (try await expectedRoot(s.log, size: 17)))
        await #expect(try s.log.merkleRoot(size: 15) == root)
        await s.finish()
    }
}
