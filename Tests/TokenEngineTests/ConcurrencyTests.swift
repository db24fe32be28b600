import EventLog
import Foundation
import Testing
import TextCoding
import TokenDomain

@testable import TokenEngine

@Suite("Engine concurrency")
struct ConcurrencyTests {
    @Test(arguments: EngineHarness.Store.allCases)
    func concurrentRefreshesWithOneTokenAllSucceedWithDistinctSerials(_ store: EngineHarness.Store)
        async throws
    {
        let h = try await EngineHarness(store)
        let engine = h.engine
        let (_, principal) = try await h.refreshableParent()
        let serials = try await withThrowingTaskGroup(of: TokenSerial.self) { group in
            for _ in 0..<200 {
                group.addTask {
                    try await engine.issueToken(
                        instance: .shop, by: principal, scope: scope("readonly")
                    ).value.serial
                }
            }
            var all = [TokenSerial]()
            for try await s in group { all.append(s) }
            return all
        }
        #expect(Set(serials).count == 200)
        #expect(Set(serials.map(\.rawValue)) == Set(2...201))
        #expect(engine.instance(.shop)?.tokens.count == 201)
        await #expect(engine.digest() == StateDigest.hex(of: try ReplayedState.load(h.log).state))
        await h.finish()
    }

    @Test(arguments: EngineHarness.Store.allCases)
    func noTokenIsMintedFromARevokedTokenAfterTheRevocationCommitted(_ store: EngineHarness.Store)
        async throws
    {
        for round in 0..<5 {
            let h = try await EngineHarness(store)
            let engine = h.engine
            let (parent, principal) = try await h.refreshableParent()
            await withTaskGroup(of: Void.self) { group in
                for i in 0..<60 {
                    group.addTask {
                        if i == 20 + round * 5 {
                            _ = try? await engine.revokePresentedToken(
                                instance: .shop, by: principal)
                        } else {
                            _ = try? await engine.issueToken(
                                instance: .shop, by: principal, scope: scope("readonly")
                            ).value
                        }
                    }
                }
            }
            // In the log, every token minted from the parent comes before its revocation.
            var revokedAt: UInt64?
            var mintedAt = [UInt64]()
            try await h.log.scan(from: 1, through: nil, verifyingChain: true) { view in
                let event = try EventCodec.decode(tag: view.typeString, payload: view.payload)
                switch event {
                case .tokenRevoked(let r) where r.serial == parent.serial: revokedAt = view.sequence
                case .tokenIssued(let i) where i.origin == .token(parent: parent.serial):
                    mintedAt.append(view.sequence)
                default: break
                }
            }
            let revocation = try #require(revokedAt)
            #expect(mintedAt.allSatisfy { $0 < revocation }, "round \(round)")
            await h.finish()
        }
    }

    @Test func manyInstancesAndCommandsReplayToTheLiveDigest() async throws {
        let h = try await EngineHarness(.lmdb) { $0.checkpointInterval = 50 }
        let engine = h.engine
        var owners = [InstanceID: Principal]()
        for i in 0..<4 {
            let id = "inst-\(i)"
            owners[InstanceID(id)!] = try await h.makeInstance(id)
        }
        let snapshot = owners
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (instance, owner) in snapshot {
                group.addTask {
                    for n in 0..<60 {
                        let t = try await engine.issueToken(
                            instance: instance, by: owner,
                            scope: scope(n % 2 == 0 ? "all:refreshable" : "order-pos")
                        ).value
                        if n % 7 == 0 {
                            try await engine.deleteToken(
                                instance: instance, serial: t.serial, by: owner)
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        let live = engine.digest()
        await #expect(live == StateDigest.hex(of: try ReplayedState.load(h.log).state))
        _ = try await engine.checkpoint()
        try await h.restart()
        #expect(h.engine.digest() == live)
        let restored = try await ReplayedState.load(h.log)
        #expect(restored.checkpointSequence != nil)
        #expect(restored.eventsFolded == 0)
        await h.finish()
    }

    /// Checkpoints taken while mints and revocations commit on several instances: each holds
    /// exactly the state of the log up to its sequence, and a restart from the last one plus
    /// the tail equals the live state.
    @Test func checkpointsTakenWhileCommandsCommitHoldTheStateAtTheirSequence() async throws {
        let h = try await EngineHarness(.lmdb) { $0.checkpointInterval = 0 }
        let engine = h.engine
        let log = h.log
        var owners = [InstanceID: Principal]()
        for i in 0..<3 {
            owners[InstanceID("busy-\(i)")!] = try await h.makeInstance("busy-\(i)")
        }
        let snapshot = owners
        let checked = try await withThrowingTaskGroup(of: Int.self) { group in
            for (instance, owner) in snapshot {
                group.addTask {
                    for n in 0..<150 {
                        let t = try await engine.issueToken(
                            instance: instance, by: owner, scope: scope("order-pos")
                        ).value
                        if n % 5 == 0 {
                            try await engine.deleteToken(
                                instance: instance, serial: t.serial, by: owner)
                        }
                    }
                    return 0
                }
            }
            group.addTask {
                var checked = 0
                for _ in 0..<12 {
                    guard let sequence = try await engine.checkpoint() else { continue }
                    let saved = try #require(
                        try await log.checkpoint(named: ReplayedState.checkpointName).checkpoint)
                    #expect(saved.sequence == sequence)
                    let restored = try await log.withCheckpointParts(of: saved) {
                        try ReplayedState(checkpoint: saved, parts: $0)
                    }
                    var folded = ReplayedState()
                    try await folded.fold(log, through: sequence)
                    #expect(
                        StateDigest.hex(of: restored.state) == StateDigest.hex(of: folded.state))
                    #expect(restored.versions == folded.versions)
                    checked += 1
                }
                return checked
            }
            return try await group.reduce(0, +)
        }
        #expect(checked > 0)
        let live = engine.digest()
        try await h.restart()
        #expect(h.engine.digest() == live)
        await h.finish()
    }
}
