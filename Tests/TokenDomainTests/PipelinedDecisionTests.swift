import Testing

@testable import TokenDomain

/// Decisions made before earlier events of the instance commit (group commit): the context's
/// reserved serials and pending revocations make them the decisions the committed events
/// would have given.
@Suite("Pipelined decisions: reserved serials and pending revocations")
struct PipelinedDecisionTests {
    typealias F = Fixture

    /// Committed: tokens 1 (`all:refreshable`) and 2 (`order-pos`); next serial 3.
    static let base = [
        F.created(), F.issued(1, F.scope("all:refreshable")), F.issued(2, F.scope("order-pos")),
    ]

    static func decide(
        _ command: DomainCommand, reserved: UInt64 = 0, pending: Set<UInt64> = [],
        now: Int64 = F.t0 + 1
    ) throws -> Result<[DomainEvent], Rejection> {
        let state = try fold(base)
        let context = DecisionContext(
            now: now, reservedSerials: reserved,
            pendingRevocations: Set(pending.map(TokenSerial.init)))
        return Result { () throws(Rejection) in
            try Decider.decide(command, instance: F.shop, state: state, context: context)
        }
    }

    static func issue(hash: UInt64, by credential: Credential = F.basicLogin) -> DomainCommand {
        .issueToken(
            IssueToken(
                scope: .orderSimple, newTokenHash: F.hash(hash), authenticatedBy: credential))
    }

    @Test func twoIssuesOnTheSameCommittedStateGetConsecutiveSerials() throws {
        let first = try Self.decide(Self.issue(hash: 100), reserved: 0).get()
        let second = try Self.decide(Self.issue(hash: 101), reserved: 1).get()
        guard case .tokenIssued(let a) = first.first, case .tokenIssued(let b) = second.first
        else {
            Issue.record("expected two token-issued events")
            return
        }
        #expect(a.serial == TokenSerial(3))
        #expect(b.serial == TokenSerial(4))
        let state = try #require(try fold(Self.base + first + second))
        #expect(state.nextSerial == TokenSerial(5))
        #expect(state.token(hash: F.hash(100))?.serial == TokenSerial(3))
        #expect(state.token(hash: F.hash(101))?.serial == TokenSerial(4))
    }

    @Test func theFoldStillTakesSerialsOnlyInOrder() throws {
        let first = try Self.decide(Self.issue(hash: 100), reserved: 0).get()
        let second = try Self.decide(Self.issue(hash: 101), reserved: 1).get()
        #expect(
            throws: FoldError(
                instance: F.shop, tag: .tokenIssued,
                problem: .serialOutOfSequence(expected: TokenSerial(3), found: TokenSerial(4)))
        ) {
            try fold(Self.base + second + first)
        }
    }

    @Test func refreshWithAPendingRevokedTokenIsUnauthorized() throws {
        let refresh = Self.issue(hash: 100, by: .token(F.hash(1)))
        #expect(try Self.decide(refresh).events.count == 1)
        let result = try Self.decide(refresh, pending: [1])
        #expect(result == .failure(.unauthorized(.tokenRevoked)))
        #expect(result.rejection?.errorCode.code == 2015)
    }

    @Test func deleteTokenOfAPendingRevokedSerialIsUnknown() throws {
        let delete = DomainCommand.deleteToken(DeleteToken(serial: TokenSerial(2)))
        let result = try Self.decide(delete, pending: [2])
        #expect(result == .failure(.tokenUnknown(TokenSerial(2))))
        #expect(result.rejection?.errorCode.code == 2042)
        #expect(result.rejection?.errorCode.httpStatus == 404)
    }

    @Test func revokeSelfOfAPendingRevokedTokenIsUnauthorized() throws {
        let revoke = DomainCommand.revokeToken(RevokeToken(hash: F.hash(1)))
        let result = try Self.decide(revoke, pending: [1])
        #expect(result == .failure(.unauthorized(.tokenRevoked)))
        #expect(result.rejection?.errorCode.httpStatus == 401)
    }

    @Test func otherPendingRevocationsDoNotMatter() throws {
        let delete = DomainCommand.deleteToken(DeleteToken(serial: TokenSerial(2)))
        #expect(
            try Self.decide(delete, pending: [1])
                == .success([F.revoked(2, at: F.t0 + 1, reason: .deletedBySerial)]))
        let refresh = Self.issue(hash: 100, by: .token(F.hash(1)))
        let issued = try Self.decide(refresh, reserved: 2, pending: [2]).get()
        guard case .tokenIssued(let event) = issued.first else {
            Issue.record("expected token-issued")
            return
        }
        #expect(event.serial == TokenSerial(5))
        #expect(event.origin == .token(parent: TokenSerial(1)))
    }

    @Test func authorizeCountsPendingRevocations() throws {
        let state = try #require(try fold(Self.base))
        let credential = Credential.token(F.hash(1))
        #expect(throws: Never.self) {
            try state.authorize(credential, requiring: .tokensWrite, at: F.t0 + 1)
        }
        #expect(throws: Rejection.unauthorized(.tokenRevoked)) {
            try state.authorize(
                credential, requiring: .tokensWrite, at: F.t0 + 1,
                pendingRevocations: [TokenSerial(1)])
        }
    }

    @Test func addPendingCountsTokenEventsOnly() {
        var context = DecisionContext(now: F.t0)
        context.addPending([F.issued(3, F.scope("all")), F.revoked(1, at: F.t0)])
        context.addPending([.instanceDeleted(InstanceDeleted(at: F.t0))])
        context.addPending([F.issued(4, F.scope("all"))])
        #expect(context.reservedSerials == 2)
        #expect(context.pendingRevocations == [TokenSerial(1)])
    }

    /// Batches of random token commands against one committed state: decided pipelined
    /// (context accumulating the batch's events) they give exactly the results of deciding
    /// them one by one with each batch's events folded in between, and committing the
    /// pipelined events gives the same state. Commands name only committed tokens: a client
    /// cannot know the hash or serial of a token whose issue has not committed.
    @Test("pipelined = sequential", arguments: [UInt64(1), 2, 3])
    func pipelinedEqualsSequential(seed: UInt64) throws {
        var random = SeededRandom(seed: seed)
        var committed = try #require(try fold(Self.base))
        var now = F.t0
        var nextHash: UInt64 = 1000
        var outcomes: [Int: Int] = [:]
        for round in 0..<300 {
            var commands: [(DomainCommand, Int64)] = []
            for _ in 0..<Int.random(in: 1...6, using: &random) {
                now += Int64.random(in: 0...F.hour, using: &random)
                nextHash += 1
                commands.append(
                    (Self.randomCommand(committed, hash: nextHash, random: &random), now))
            }
            var context = DecisionContext(now: now)
            var pipelined = committed
            var sequential = committed
            for (command, at) in commands {
                context.now = at
                let early = Result { () throws(Rejection) in
                    try Decider.decide(
                        command, instance: F.shop, state: committed, context: context)
                }
                var sequentialState: InstanceState? = sequential
                let late = Result { () throws(Rejection) in
                    try Decider.decide(
                        command, instance: F.shop, state: sequentialState,
                        context: DecisionContext(now: at))
                }
                #expect(early == late, "seed \(seed) round \(round) \(command)")
                for event in late.events {
                    try Decider.evolve(&sequentialState, instance: F.shop, with: event)
                }
                sequential = try #require(sequentialState)
                context.addPending(early.events)
                for event in early.events { try pipelined.apply(event) }
                outcomes[early.rejection?.errorCode.code ?? 0, default: 0] += 1
            }
            #expect(pipelined == sequential)
            committed = pipelined
        }
        #expect(outcomes[0, default: 0] > 100)
        #expect(outcomes[2015, default: 0] > 10)
        #expect(outcomes[2042, default: 0] > 10)
    }

    static func randomCommand(
        _ state: InstanceState, hash: UInt64, random: inout SeededRandom
    ) -> DomainCommand {
        let recent = state.tokens.suffix(8)
        let presented = recent.randomElement(using: &random)?.hash ?? F.hash(1)
        switch Int.random(in: 0..<10, using: &random) {
        case 0..<4:
            let credential: Credential =
                random.chance(0.3) ? F.basicLogin : .token(presented)
            return .issueToken(
                IssueToken(
                    scope: [.orderSimple, .orderPos, .readonly].randomElement(using: &random)!,
                    refreshable: random.chance(0.8), newTokenHash: F.hash(hash),
                    authenticatedBy: credential))
        case 4..<7:
            return .revokeToken(RevokeToken(hash: presented))
        default:
            let last = recent.last?.serial.rawValue ?? 0
            let serial = UInt64.random(in: last.saturatingSubtract(8)...last, using: &random)
            return .deleteToken(DeleteToken(serial: TokenSerial(serial)))
        }
    }
}

extension UInt64 {
    fileprivate func saturatingSubtract(_ other: UInt64) -> UInt64 {
        self >= other ? self - other : 0
    }
}
