import Foundation
import LMDB
import Testing
import TextCoding
import TokenDomain

@testable import EventLog
@testable import TokenEngine

@Suite("Replay and checkpoints")
struct ReplayTests {
    /// A small history over two instances with refreshes, revocations and a password change.
    func workload(_ h: EngineHarness) async throws -> (secrets: [String], passwords: [String]) {
        var secrets = [String]()
        let owner = try await h.makeInstance("shop", password: "first password")
        _ = try await h.makeInstance("other", password: "second password")
        for n in 0..<6 {
            h.clock.advance(by: 1_000_000)
            let t = try await h.engine.issueToken(
                instance: .shop, by: owner,
                scope: scope(n % 2 == 0 ? "all:refreshable" : "readonly"),
                duration: .micros(UInt64(5 + n) * 1_000_000), description: "till \(n)"
            ).value
            secrets.append(t.accessToken)
            if n % 2 == 0 {
                let p = try await h.engine.authenticate(
                    .secretToken(String(t.accessToken.dropFirst(13))), instance: .shop)
                let child = try await h.engine.issueToken(
                    instance: .shop, by: p, scope: scope("order-simple")
                ).value
                secrets.append(child.accessToken)
            }
            if n == 3 {
                try await h.engine.deleteToken(instance: .shop, serial: t.serial, by: owner)
            }
        }
        try await h.engine.changeCredentials(
            instance: .shop, to: .password("third password"), by: owner
        ).value
        return (secrets, ["first password", "second password", "third password"])
    }

    @Test(arguments: EngineHarness.Store.allCases)
    func theLiveStateEqualsAReplayOfTheLog(_ store: EngineHarness.Store) async throws {
        let h = try await EngineHarness(store)
        _ = try await workload(h)
        let replayed = try await ReplayedState.load(h.log)
        #expect(h.engine.digest() == StateDigest.hex(of: replayed.state))
        await #expect(replayed.head == (try h.log.head()))
        try await h.restart()
        #expect(h.engine.digest() == StateDigest.hex(of: replayed.state))
        await h.finish()
    }

    @Test func validityAtAnyMomentIsTheSameLiveAndReplayed() async throws {
        let h = try await EngineHarness(.lmdb)
        _ = try await workload(h)
        let records = try await h.log.readAll()
        // Replay to each record's time (every record recorded up to then) and compare every
        // token's status at that moment with what the final live state says of that moment.
        let live = try #require(h.engine.instance(.shop))
        for record in records {
            var then = ReplayedState()
            try await then.fold(h.log, stopAt: record.recordedAt)
            #expect(then.head.sequence >= record.sequence)
            guard let shop = then.state[.shop] else { continue }
            for token in shop.tokens {
                let liveToken = try #require(live.token(serial: token.serial))
                #expect(
                    token.status(at: record.recordedAt) == liveToken.status(at: record.recordedAt))
            }
            // And the state through exactly this record agrees with the log's own head there.
            var upTo = ReplayedState()
            try await upTo.fold(h.log, through: record.sequence)
            #expect(upTo.head.sequence == record.sequence)
        }
        await h.finish()
    }

    @Test func aRestartFoldsOnlyTheTailAfterACheckpoint() async throws {
        let h = try await EngineHarness(.lmdb) { $0.checkpointInterval = 0 }
        _ = try await workload(h)
        let covered = try #require(try await h.engine.checkpoint())
        let owner = try await h.engine.authenticate(.secretToken("third password"), instance: .shop)
        _ = try await h.engine.issueToken(instance: .shop, by: owner, scope: scope("readonly"))
            .value
        let live = h.engine.digest()
        try await h.restart()
        #expect(h.engine.digest() == live)
        let loaded = try await ReplayedState.load(h.log)
        #expect(loaded.checkpointSequence == covered)
        #expect(loaded.eventsFolded == 1)
        await h.finish()
    }

    @Test func aForeignOrStaleCheckpointIsIgnored() async throws {
        let h = try await EngineHarness(.lmdb) { $0.checkpointInterval = 0 }
        _ = try await workload(h)
        let live = h.engine.digest()
        let head = try await h.log.head()
        let lmdb = try #require(h.log as? LMDBEventLog)
        // Written behind the log's back: the log itself refuses to save either of them.
        let empty = StoredCheckpoint().manifest().snapshot
        let foreign = Checkpoint(
            name: ReplayedState.checkpointName, sequence: head.sequence, hash: .zero,
            snapshot: empty)
        let stale = Checkpoint(
            name: ReplayedState.checkpointName, sequence: head.sequence + 10, hash: head.hash,
            snapshot: empty)
        for bogus in [foreign, stale] {
            try lmdb.env.write { txn in
                try txn.put(
                    lmdb.databases.checkpoints, key: Array(bogus.name.utf8), value: bogus.encoded())
            }
            guard case .rejected = try await h.log.checkpoint(named: ReplayedState.checkpointName)
            else {
                Issue.record("a checkpoint that does not match the log was accepted")
                continue
            }
            let loaded = try await ReplayedState.load(h.log)
            #expect(loaded.checkpointSequence == nil)
            #expect(StateDigest.hex(of: loaded.state) == live)
        }
        try await h.restart()
        #expect(h.engine.digest() == live)
        await h.finish()
    }

    @Test func aCheckpointWithAPartMissingIsIgnored() async throws {
        let h = try await EngineHarness(.lmdb) { $0.checkpointInterval = 0 }
        _ = try await workload(h)
        let live = h.engine.digest()
        _ = try #require(try await h.engine.checkpoint())
        let saved = try #require(
            try await h.log.checkpoint(named: ReplayedState.checkpointName).checkpoint)
        let lmdb = try #require(h.log as? LMDBEventLog)
        try lmdb.env.write { txn in
            let db = try #require(lmdb.databases.checkpointParts)
            _ = try txn.delete(
                db, key: Checkpoint.storageKey(name: saved.name, part: saved.parts[1]))
        }
        guard case .rejected = try await h.log.checkpoint(named: ReplayedState.checkpointName)
        else {
            Issue.record("a checkpoint with a part missing was accepted")
            return
        }
        let loaded = try await ReplayedState.load(h.log)
        #expect(loaded.checkpointSequence == nil)
        #expect(StateDigest.hex(of: loaded.state) == live)
        try await h.restart()
        #expect(h.engine.digest() == live)
        // The next checkpoint writes every part again, and is used.
        let covered = try #require(try await h.engine.checkpoint())
        #expect(try await ReplayedState.load(h.log).checkpointSequence == covered)
        await h.finish()
    }

    /// The command that crosses the interval is answered without waiting for the checkpoint
    /// it starts; a start that folded more than an interval's events checkpoints at its first
    /// command.
    @Test func checkpointsRunInTheBackgroundAndAfterALongFold() async throws {
        let h = try await EngineHarness(.lmdb) { $0.checkpointInterval = 20 }
        let owner = try await h.makeInstance("shop")
        for _ in 0..<25 {
            _ = try await h.engine.issueToken(instance: .shop, by: owner, scope: scope("readonly"))
        }
        await h.engine.backgroundCheckpointSettled()
        let first = try #require(h.engine.checkpointReports.first)
        #expect(first.sequence >= 20)
        // Restarted with a larger interval: a tail and commands short of it start none...
        func shopOwner() async throws -> Principal {
            try await h.engine.authenticate(
                .basic(user: "shop", password: "correct horse"), instance: .shop, allowBasic: true)
        }
        try await h.restart { $0.checkpointInterval = 1_000 }
        for _ in 0..<5 {
            _ = try await h.engine.issueToken(
                instance: .shop, by: try await shopOwner(), scope: scope("readonly"))
        }
        await h.engine.backgroundCheckpointSettled()
        #expect(h.engine.checkpointReports.isEmpty)
        // ...but a start that folded at least an interval's events (here 5 or more, where the
        // next command adds 1) checkpoints at its first command.
        try await h.restart { $0.checkpointInterval = 5 }
        #expect(try await ReplayedState.load(h.log).eventsFolded >= 5)
        _ = try await h.engine.issueToken(
            instance: .shop, by: try await shopOwner(), scope: scope("readonly"))
        await h.engine.backgroundCheckpointSettled()
        let after = try #require(h.engine.checkpointReports.last)
        #expect(after.sequence == (try await h.log.head().sequence))
        await h.finish()
    }

    /// A checkpoint names again the parts that did not change and writes the others: the
    /// head and the chunk a token was added to or revoked in.
    @Test func aCheckpointWritesOnlyWhatChanged() async throws {
        let h = try await EngineHarness(.memory) { $0.checkpointInterval = 0 }
        let owner = try await h.makeInstance("shop")
        _ = try await h.makeInstance("other")
        var serials: [TokenSerial] = []
        for _ in 0..<(TokenTable.chunkSize + 3) {
            serials.append(
                try await h.engine.issueToken(instance: .shop, by: owner, scope: scope("readonly"))
                    .value.serial)
        }
        func parts() async throws -> [[UInt8]] {
            _ = try #require(try await h.engine.checkpoint())
            return try #require(
                try await h.log.checkpoint(named: ReplayedState.checkpointName).checkpoint
            ).parts
        }
        // Instances by id: "other" (head), then "shop" (head, chunk 1, chunk 2).
        let first = try await parts()
        #expect(first.count == 4)
        _ = try await h.engine.issueToken(instance: .shop, by: owner, scope: scope("readonly"))
        let second = try await parts()
        #expect(second[0] == first[0] && second[2] == first[2])
        #expect(second[1] != first[1] && second[3] != first[3])
        try await h.engine.deleteToken(instance: .shop, serial: serials[7], by: owner)
        let third = try await parts()
        #expect(third[0] == first[0] && third[3] == second[3])
        #expect(third[1] != second[1] && third[2] != second[2])
        // Nothing changed: the same parts again.
        #expect(try await parts() == third)
        let live = h.engine.digest()
        try await h.restart()
        #expect(h.engine.digest() == live)
        #expect(try await ReplayedState.load(h.log).eventsFolded == 0)
        await h.finish()
    }

    @Test(arguments: EngineHarness.Store.allCases)
    func noSecretReachesTheLog(_ store: EngineHarness.Store) async throws {
        let h = try await EngineHarness(store)
        let (secrets, passwords) = try await workload(h)
        var haystack = [UInt8]()
        for record in try await h.log.readAll() {
            haystack += record.payload + Array(record.type.utf8) + Array(record.stream.utf8)
        }
        for needle in secrets + secrets.map({ String($0.dropFirst(13)) }) + passwords {
            let bytes = Array(needle.utf8)
            let found = haystack.indices.dropLast(max(0, bytes.count - 1)).contains { start in
                haystack[start..<start + bytes.count].elementsEqual(bytes)
            }
            #expect(!found, "a secret is in the log")
        }
        if store == .lmdb {
            let files = try FileManager.default.contentsOfDirectory(
                atPath: h.directory.appending("log"))
            for file in files {
                let data = try Data(
                    contentsOf: URL(fileURLWithPath: h.directory.appending("log/\(file)")))
                for needle in secrets + passwords {
                    #expect(data.range(of: Data(needle.utf8)) == nil, "a secret is in \(file)")
                }
            }
        }
        await h.finish()
    }
}
