import EventLog
import EventLogTestSupport
import Foundation
import Testing
import TokenDomain

@testable import TokenEngine

/// Two engines on one log, as two servers on one PostgreSQL database (spec: several servers):
/// each folds the other's records as the log announces them, and a command decided on a
/// stale state fails its expected version, waits for the state to catch up and is decided
/// again. Played here on one in-memory storage, whose appends wake every log open over it.
@Suite("Several servers on one log")
struct SharedLogTests {
    /// Two servers, `a` and `b`, on one storage.
    struct Servers {
        let clock = ManualLogClock()
        let storage = InMemoryEventLog.Storage()
        let logs: [InMemoryEventLog]
        let a: TokenEngine
        let b: TokenEngine

        init(signer: TreeHeadSigner? = nil) async throws {
            var configuration = EngineConfiguration()
            configuration.passwordHashing = .testing
            configuration.sharedLog = true
            configuration.treeHeadSigner = signer
            let logs = [
                InMemoryEventLog(storage: storage, clock: clock),
                InMemoryEventLog(storage: storage, clock: clock),
            ]
            self.logs = logs
            a = try await TokenEngine(log: logs[0], configuration: configuration, clock: clock)
            b = try await TokenEngine(log: logs[1], configuration: configuration, clock: clock)
        }

        /// Waits until both have folded everything appended so far.
        func settle() async throws {
            let head = try storage.head()
            await a.waitUntilApplied(through: head)
            await b.waitUntilApplied(through: head)
        }

        /// Instance `shop` created on `a` with an `all:refreshable` token minted by its owner
        /// there, both servers settled: the token.
        func refreshableParent() async throws -> IssuedToken {
            try await a.createInstance(.init(id: .shop, name: "Shop", auth: .password("pw pw")))
            let owner = try await a.authenticate(
                .basic(user: "shop", password: "pw pw"), instance: .shop, allowBasic: true)
            let parent = try await a.issueToken(
                instance: .shop, by: owner, scope: scope("all:refreshable")
            ).value
            try await settle()
            return parent
        }

        func finish() async {
            for log in logs { await log.close() }
        }
    }

    static func principal(_ engine: TokenEngine, of token: IssuedToken) async throws -> Principal {
        try await engine.authenticate(
            .secretToken(String(token.accessToken.dropFirst(13))), instance: .shop)
    }

    @Test func aTokenMintedOnOneServerWorksOnTheOtherAndARevocationOnEitherEndsIt()
        async throws
    {
        let s = try await Servers()
        let token = try await s.refreshableParent()
        // Used on b, revoked on b: refused on a once a has folded the revocation.
        let onB = try await Self.principal(s.b, of: token)
        try await s.b.revokePresentedToken(instance: .shop, by: onB)
        try await s.settle()
        await #expect(throws: EngineError.self) { try await Self.principal(s.a, of: token) }
        #expect(s.a.digest() == s.b.digest())
        await s.finish()
    }

    @Test func concurrentRefreshesOverBothServersGetDistinctGaplessSerials() async throws {
        let s = try await Servers()
        let parent = try await s.refreshableParent()
        let onA = try await Self.principal(s.a, of: parent)
        let onB = try await Self.principal(s.b, of: parent)
        let serials = try await withThrowingTaskGroup(of: TokenSerial.self) { group in
            for i in 0..<200 {
                let (engine, principal) = i % 2 == 0 ? (s.a, onA) : (s.b, onB)
                group.addTask {
                    try await engine.issueToken(
                        instance: .shop, by: principal, scope: scope("readonly")
                    ).value.serial
                }
            }
            var all = [TokenSerial]()
            for try await serial in group { all.append(serial) }
            return all
        }
        #expect(Set(serials.map(\.rawValue)) == Set(2...201))
        try await s.settle()
        #expect(s.a.instance(.shop)?.tokens.count == 201)
        #expect(s.a.digest() == s.b.digest())
        #expect(s.a.digest() == StateDigest.hex(of: try await ReplayedState.load(s.logs[0]).state))
        await s.finish()
    }

    @Test func nothingIsMintedFromATokenAfterItsRevocationOnTheOtherServer() async throws {
        for round in 0..<3 {
            let s = try await Servers()
            let parent = try await s.refreshableParent()
            let onA = try await Self.principal(s.a, of: parent)
            let onB = try await Self.principal(s.b, of: parent)
            await withTaskGroup(of: Void.self) { group in
                for i in 0..<60 {
                    group.addTask {
                        if i == 20 + round * 7 {
                            _ = try? await s.b.revokePresentedToken(instance: .shop, by: onB)
                        } else {
                            _ = try? await s.a.issueToken(
                                instance: .shop, by: onA, scope: scope("readonly")
                            ).value
                        }
                    }
                }
            }
            var revokedAt: UInt64?
            var mintedAt = [UInt64]()
            try s.logs[0].scan(from: 1, through: nil, verifyingChain: true) { view in
                let event = try EventCodec.decode(tag: view.typeString, payload: view.payload)
                switch event {
                case .tokenRevoked(let r) where r.serial == parent.serial:
                    revokedAt = view.sequence
                case .tokenIssued(let issued) where issued.origin == .token(parent: parent.serial):
                    mintedAt.append(view.sequence)
                default: break
                }
            }
            let revocation = try #require(revokedAt, "round \(round)")
            #expect(
                mintedAt.allSatisfy { $0 < revocation },
                "round \(round): revoked at \(revocation), minted at \(mintedAt)")
            try await s.settle()
            #expect(s.a.digest() == s.b.digest())
            await s.finish()
        }
    }

    /// Both servers run a sealer: whichever seals first records the head, the other finds
    /// nothing new (or, had it read the stream before, has its append refused by the stream
    /// version); each folds the other's heads as records that hold no state.
    @Test func oneSignedHeadPerRoundWhicheverServerSeals() async throws {
        let signer = try TreeHeadSigner(rawKey: Array(repeating: 5, count: 32))
        let s = try await Servers(signer: signer)
        _ = try await s.refreshableParent()
        let first = try #require(try await s.a.sealTreeHead(now: s.clock.nowMicroseconds()))
        #expect(try await s.b.sealTreeHead(now: s.clock.nowMicroseconds()) == nil)
        await #expect(throws: EventLogError.self) {
            try await s.logs[1].append(
                to: SignedTreeHead.stream, expecting: .noStream,
                events: [ProposedEvent(type: SignedTreeHead.type, payload: first.payload)])
        }
        #expect(try s.storage.head() == first.treeSize + 1)
        let owner = try await s.b.authenticate(
            .basic(user: "shop", password: "pw pw"), instance: .shop, allowBasic: true)
        _ = try await s.b.issueToken(instance: .shop, by: owner, scope: scope("readonly")).value
        let second = try #require(try await s.b.sealTreeHead(now: s.clock.nowMicroseconds()))
        #expect(second.treeSize == first.treeSize + 2)
        try await s.settle()
        #expect(s.a.appliedThrough == second.treeSize + 1)
        #expect(s.b.appliedThrough == second.treeSize + 1)
        #expect(s.a.digest() == s.b.digest())
        try await s.logs[0].consistencyProof(first: first.treeSize, second: second.treeSize)
            .check(with: signer.publicKey)
        await s.finish()
    }
}

extension InMemoryEventLog.Storage {
    /// The newest sequence of the shared log.
    func head() throws -> UInt64 {
        try InMemoryEventLog(storage: self).head().sequence
    }
}
