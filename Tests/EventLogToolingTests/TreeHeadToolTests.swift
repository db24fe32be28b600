import EventLogTestSupport
import Foundation
import LMDB
import Testing
import TextCoding
import TokenDomain
import TokenEngine

@testable import EventLog
@testable import EventLogTooling

/// Signed tree heads made by the engine's sealer, and the auditor's tools around them:
/// proofs checked without the log, consistency between heads, `verify --public-key`,
/// tampering, dump and load, restart.
@Suite("Signed tree heads and proofs")
struct TreeHeadToolTests {
    static let signer = try! TreeHeadSigner(rawKey: Array(repeating: 7, count: 32))
    static let stranger = try! TreeHeadSigner(rawKey: Array(repeating: 9, count: 32))
    static let start: Int64 = 1_790_000_000_000_000

    /// A log made by the engine: two instances, a head, three tokens, a head. Returns the
    /// heads signed.
    static func makeLog(in dir: String) async throws -> [SignedTreeHead] {
        let clock = ManualLogClock(microseconds: start)
        var lc = LMDBEventLog.Configuration(directory: dir)
        lc.clock = clock
        let log = try LMDBEventLog.open(lc)
        let engine = try await engine(log, clock: clock)
        var heads = [SignedTreeHead]()
        let shop = InstanceID("shop")!
        try await engine.createInstance(
            .init(id: shop, name: "Shop", auth: .password("shop password")))
        try await engine.createInstance(
            .init(id: .admin, name: "Admin", auth: .password("admin password")))
        heads.append(try #require(try await engine.sealTreeHead(now: clock.nowMicroseconds())))
        #expect(try await engine.sealTreeHead(now: clock.nowMicroseconds()) == nil)
        let owner = try await engine.authenticate(
            .basic(user: "shop", password: "shop password"), instance: shop, allowBasic: true)
        for n in 0..<3 {
            clock.advance(by: 60_000_000)
            _ = try await engine.issueToken(
                instance: shop, by: owner, scope: TokenScope(wire: "readonly")!,
                description: "token \(n)"
            ).value
        }
        heads.append(try #require(try await engine.sealTreeHead(now: clock.nowMicroseconds())))
        #expect(try await engine.sealTreeHead(now: clock.nowMicroseconds()) == nil)
        // The heads hold nothing of the state: the engine's state is the replay's, and every
        // record counts as folded (checkpoints and waits depend on it).
        #expect(engine.appliedThrough == (try log.head().sequence))
        #expect(StateDigest.hex(of: try await ReplayedState.load(log).state) == engine.digest())
        #expect(try await engine.checkpoint() == (try log.head().sequence))
        await log.close()
        return heads
    }

    static func engine(_ log: any EventStore, clock: any LogClock) async throws -> TokenEngine {
        var ec = EngineConfiguration()
        ec.passwordHashing = .testing
        ec.checkpointInterval = 0
        ec.treeHeadSigner = signer
        return try await TokenEngine(log: log, configuration: ec, clock: clock)
    }

    @Test func headsAreSignedWhenThereWereAppendsAndProofsCheckWithoutTheLog() async throws {
        let tmp = try TemporaryDirectory(prefix: "heads")
        defer { tmp.remove() }
        let heads = try await Self.makeLog(in: tmp.appending("log"))
        let log = try LogTool.open(tmp.appending("log"))
        let records = try await log.readAll()
        #expect(heads.map(\.treeSize) == [heads[0].treeSize, heads[0].treeSize + 4])
        // Each head is recorded right after the records it covers, in its own stream.
        for head in heads {
            #expect(records[Int(head.treeSize)].stream == SignedTreeHead.stream)
            #expect(SignedTreeHead(record: records[Int(head.treeSize)]) == head)
        }
        #expect(try await log.signedTreeHeads() == heads)
        #expect(try await log.newestSignedTreeHead() == heads[1])
        #expect(try await log.signedTreeHead(size: heads[0].treeSize) == heads[0])
        #expect(try await log.signedTreeHead(size: heads[0].treeSize + 1) == nil)

        let key = Self.signer.publicKey
        for record in records.prefix(Int(heads[1].treeSize)) {
            let proof = try await LogTool.prove(log, sequence: record.sequence, treeSize: nil)
            let (proved, head) = try LogTool.checkProof(proof.json, key: key)
            #expect(proved == record)
            #expect(head == heads[1])
        }
        let early = try await LogTool.prove(log, sequence: 1, treeSize: heads[0].treeSize)
        #expect(try LogTool.checkProof(early.json, key: key).1 == heads[0])
        // Another key's signature is refused; so is a size nobody signed.
        #expect(throws: ToolError.self) {
            try LogTool.checkProof(early.json, key: Self.stranger.publicKey)
        }
        await #expect(throws: ToolError.self) {
            try await LogTool.prove(log, sequence: 1, treeSize: heads[0].treeSize + 1)
        }
        await #expect(throws: ToolError.self) {
            try await LogTool.prove(log, sequence: heads[1].treeSize + 1, treeSize: nil)
        }

        let consistency = try await LogTool.proveConsistency(
            log, from: heads[0].treeSize, to: heads[1].treeSize)
        #expect(try LogTool.checkConsistency(consistency.json, key: key) == consistency)
        #expect(throws: ToolError.self) {
            try LogTool.checkConsistency(consistency.json, key: Self.stranger.publicKey)
        }
        var exported = [String]()
        #expect(try await LogTool.treeHeads(log) { exported.append($0) } == 2)
        #expect(exported == heads.map(\.json))
        #expect(try await LogTool.verifyTreeHeads(log, key: key) == .init(heads: 2))
        #expect(
            try await LogTool.verifyTreeHeads(log, key: Self.stranger.publicKey).failure?.sequence
                == heads[0].treeSize + 1)
        await log.close()
        #expect(try LogTool.verify(tmp.appending("log")).isValid)
    }

    @Test func aRecordEditedAfterSigningFailsItsProofAndVerifyNamesIt() async throws {
        let tmp = try TemporaryDirectory(prefix: "edited")
        defer { tmp.remove() }
        let dir = tmp.appending("log")
        let heads = try await Self.makeLog(in: dir)
        let target: UInt64 = heads[0].treeSize + 2
        let proofBefore = try await LogTool.prove(
            try LogTool.open(dir), sequence: target, treeSize: nil)
        do {
            let log = try LMDBEventLog.open(LMDBEventLog.Configuration(directory: dir))
            try log.env.write { txn in
                var bytes = try txn.getBytes(log.databases.records, key: SequenceKey.bytes(target))!
                bytes[bytes.count - 80] ^= 0x01  // a payload byte
                try txn.put(log.databases.records, key: SequenceKey.bytes(target), value: bytes)
            }
            await log.close()
        }
        #expect(try LogTool.verify(dir).failure?.sequence == target)
        let log = try LogTool.open(dir)
        let proofAfter = try await LogTool.prove(log, sequence: target, treeSize: nil)
        #expect(proofAfter.record != proofBefore.record)
        #expect(throws: ToolError.self) {
            try LogTool.checkProof(proofAfter.json, key: Self.signer.publicKey)
        }
        // The bundle taken before still proves what the record said when it was signed.
        _ = try LogTool.checkProof(proofBefore.json, key: Self.signer.publicKey)
        await log.close()
    }

    /// Someone without the key rewrites one record and re-chains everything after it: the
    /// chain verifies, but not against the heads signed before (nor exported copies of them).
    @Test func aRewrittenHistoryIsDetectedAgainstTheSignedHeads() async throws {
        let tmp = try TemporaryDirectory(prefix: "rewritten")
        defer { tmp.remove() }
        let heads = try await Self.makeLog(in: tmp.appending("log"))
        let original = try LogTool.open(tmp.appending("log"))
        var records = try await original.readAll()
        await original.close()
        let target = Int(heads[0].treeSize) - 1  // the last record of the first head
        records[target].payload[records[target].payload.count - 1] ^= 0x01
        var previous = records[target - 1].hash
        for i in target..<records.count {
            let r = records[i]
            let (_, hash) = RecordCodec.encode(
                sequence: r.sequence, stream: r.stream, streamVersion: r.streamVersion,
                recordedAt: r.recordedAt,
                event: ProposedEvent(id: r.eventID, type: r.type, payload: r.payload),
                previousHash: previous)
            records[i].previousHash = previous
            records[i].hash = hash
            previous = hash
        }
        _ = try await LogTool.load(
            records.map(RecordJSON.line), into: tmp.appending("rewritten"))
        #expect(try LogTool.verify(tmp.appending("rewritten")).isValid)
        let forged = try LogTool.open(tmp.appending("rewritten"))
        let key = Self.signer.publicKey
        #expect(
            try await LogTool.verifyTreeHeads(forged, key: key).failure?.sequence
                == heads[0].treeSize + 1)
        let proof = try await LogTool.prove(forged, sequence: UInt64(target + 1), treeSize: nil)
        #expect(throws: ToolError.self) { try LogTool.checkProof(proof.json, key: key) }
        // Against the exported heads: the rewritten log's consistency path does not join them,
        let path = try await forged.consistencyPath(
            first: heads[0].treeSize, second: heads[1].treeSize)
        #expect(throws: ToolError.self) {
            try LogTool.checkConsistency(
                ConsistencyProof(first: heads[0], second: heads[1], proof: path).json, key: key)
        }
        // and a head of the rewritten tree signed with another key is refused.
        let fake = try Self.stranger.sign(
            size: heads[1].treeSize, root: try await forged.merkleRoot(size: heads[1].treeSize),
            now: Self.start)
        #expect(throws: ToolError.self) {
            try LogTool.checkConsistency(
                ConsistencyProof(first: heads[0], second: fake, proof: path).json, key: key)
        }
        await forged.close()
    }

    @Test func dumpThenLoadGivesIdenticalHeadsAndProofs() async throws {
        let tmp = try TemporaryDirectory(prefix: "replay")
        defer { tmp.remove() }
        let heads = try await Self.makeLog(in: tmp.appending("log"))
        let original = try LogTool.open(tmp.appending("log"))
        var dump = [String]()
        try await LogTool.dump(original) { dump.append($0) }
        _ = try await LogTool.load(dump, into: tmp.appending("copy"))
        let copy = try LogTool.open(tmp.appending("copy"))
        #expect(try copy.merkleTreeSize() == (try copy.head().sequence))
        #expect(try await copy.signedTreeHeads() == heads)
        for sequence in UInt64(1)...heads[1].treeSize {
            for size in heads.map(\.treeSize) where sequence <= size {
                #expect(
                    try await copy.inclusionProof(sequence: sequence, treeSize: size)
                        == (try await original.inclusionProof(sequence: sequence, treeSize: size)))
            }
        }
        #expect(
            try await copy.consistencyProof(first: heads[0].treeSize, second: heads[1].treeSize)
                == (try await original.consistencyProof(
                    first: heads[0].treeSize, second: heads[1].treeSize)))
        await original.close()
        await copy.close()
    }

    @Test func afterARestartTheTreeContinuesExactly() async throws {
        let tmp = try TemporaryDirectory(prefix: "restart")
        defer { tmp.remove() }
        let dir = tmp.appending("log")
        let heads = try await Self.makeLog(in: dir)
        let clock = ManualLogClock(microseconds: Self.start + 3_600_000_000)
        var lc = LMDBEventLog.Configuration(directory: dir)
        lc.clock = clock
        let log = try LMDBEventLog.open(lc)
        let engine = try await Self.engine(log, clock: clock)
        #expect(try await engine.sealTreeHead(now: clock.nowMicroseconds()) == nil)
        let shop = InstanceID("shop")!
        let owner = try await engine.authenticate(
            .basic(user: "shop", password: "shop password"), instance: shop, allowBasic: true)
        _ = try await engine.issueToken(
            instance: shop, by: owner, scope: TokenScope(wire: "readonly")!
        ).value
        let third = try #require(try await engine.sealTreeHead(now: clock.nowMicroseconds()))
        #expect(third.treeSize == heads[1].treeSize + 2)
        for head in heads {
            let proof = try await log.consistencyProof(first: head.treeSize, second: third.treeSize)
            try proof.check(with: Self.signer.publicKey)
        }
        // Its root is the root recomputed from every record.
        var frontier = MerkleFrontier()
        for record in try await log.readAll().prefix(Int(third.treeSize)) {
            frontier.append(.leaf(record: record.hash))
        }
        #expect(frontier.root == third.root)
        await log.close()
    }
}
