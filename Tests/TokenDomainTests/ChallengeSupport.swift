import Testing

@testable import TokenDomain

/// Shared values for the two-factor tables.
enum ChallengeFixture {
    typealias F = Fixture

    static let email = "shop@example.com"
    static let phone = "+41 79 000 00 00"
    static let c1 = ChallengeID("C1")!
    static let c2 = ChallengeID("C2")!
    static let c3 = ChallengeID("C3")!
    static let c4 = ChallengeID("C4")!
    static let body = RequestBodyHash(bytes: Array(repeating: 0xB0, count: 32))!
    static let otherBody = RequestBodyHash(bytes: Array(repeating: 0xB1, count: 32))!
    static let minute: Int64 = 60_000_000

    /// The TAN the "helper" sent; it exists only in the tests, as the engine's input.
    static let tan = "12345678"
    static let wrongTAN = "87654321"

    /// Stands in for the engine's keyed TAN hash: reproducible, 32 bytes, not the TAN.
    static func tanHash(_ tan: String) -> TANHash {
        var seed: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in tan.utf8 { seed = (seed ^ UInt64(byte)) &* 0x100_0000_01B3 }
        var random = SeededRandom(seed: seed)
        return TANHash(bytes: random.bytes(32))!
    }

    /// An instance with both addresses.
    static let created = F.created(email: email, phone: phone)

    static func create(
        _ operation: ProtectedOperation = .tokenIssue,
        ids: [TANChannel: ChallengeID] = [.email: c1],
        combiAnd: Bool = false, body: RequestBodyHash = body
    ) -> DomainCommand {
        .createChallenges(
            CreateChallenges(operation: operation, bodyHash: body, newIDs: ids, combiAnd: combiAnd))
    }

    static func transmit(_ id: ChallengeID = c1, tan: String = tan) -> DomainCommand {
        .recordTransmission(RecordTransmission(id: id, tanHash: tanHash(tan)))
    }

    static func confirm(_ id: ChallengeID = c1, tan: String = tan) -> DomainCommand {
        .confirmChallenge(ConfirmChallenge(id: id, tanHash: tanHash(tan)))
    }

    static func consume(
        _ ids: [ChallengeID] = [c1], _ operation: ProtectedOperation = .tokenIssue,
        body: RequestBodyHash = body
    ) -> DomainCommand {
        .consumeChallenges(ConsumeChallenges(ids: ids, operation: operation, bodyHash: body))
    }

    static let issueWithPassword = DomainCommand.issueToken(
        IssueToken(scope: .all, newTokenHash: F.hash(500), authenticatedBy: F.basicLogin))

    /// One of each new event, for the codec tables.
    static let examples: [DomainEvent] = [
        .challengeCreated(
            ChallengeCreated(
                id: c1, operation: .tokenIssue, channel: .email, address: email, bodyHash: body,
                group: c1, combiAnd: false, at: F.t0, solveExpiry: F.t0 + F.hour)),
        .challengeCreated(
            ChallengeCreated(
                id: ChallengeID("7QK9-x_Z")!, operation: .instanceDeletion, channel: .sms,
                address: "", bodyHash: otherBody, group: c2, combiAnd: true, at: -1,
                solveExpiry: .max)),
        .challengeCodeTransmitted(
            ChallengeCodeTransmitted(
                id: c1, tanHash: tanHash(tan), at: F.t0, validUntil: F.t0 + 15 * minute,
                attempts: 3)),
        .challengeAttemptFailed(ChallengeAttemptFailed(id: c1, at: F.t0 + 1, attemptsLeft: 2)),
        .challengeSolved(ChallengeSolved(id: c1, at: F.t0 + 2)),
        .challengeConsumed(ChallengeConsumed(id: c1, at: F.t0 + 3, operation: .credentialChange)),
        .challengeExpired(ChallengeExpired(id: c2, at: F.t0 + 4)),
        .instanceLoginsBlocked(InstanceLoginsBlocked(at: F.t0, until: F.t0 + F.hour)),
        .instanceAddressValidated(
            InstanceAddressValidated(at: F.t0, channel: .email, address: email, challenge: c3)),
        .instanceAddressValidated(
            InstanceAddressValidated(at: -1, channel: .sms, address: "", challenge: nil)),
        .backendCredentialSet(
            BackendCredentialSet(
                at: F.t0, fingerprint: BackendCredentialFingerprint(bytes: Array(1...8))!)),
        .backendCredentialRemoved(BackendCredentialRemoved(at: F.t0 + 1)),
        .merchantInstanceChanged(MerchantInstanceChanged(at: F.t0, action: .created, status: 204)),
        .merchantInstanceChanged(
            MerchantInstanceChanged(at: F.t0 + 2, action: .passwordRotated, status: 409)),
        .instanceLoginsUnblocked(InstanceLoginsUnblocked(at: F.t0 + F.hour)),
    ]
}

/// A given/when/then story of one instance: commands decided with
/// ``Decider/decision(_:instance:state:context:)`` at explicit instants, their events
/// appended as the engine would (refusals included).
struct ChallengeStory {
    var events: [DomainEvent]
    var policy = ChallengePolicy.default
    /// The operator's two-factor rule, for ``ProtectedCommand``s.
    var gate = TwoFactorGate.off
    var instance = Fixture.shop

    init(_ events: [DomainEvent] = [ChallengeFixture.created], policy: ChallengePolicy = .default) {
        self.events = events
        self.policy = policy
    }

    func state() throws -> InstanceState {
        try #require(try fold(events, instance: instance))
    }

    /// What deciding `command` at `now` gives, without appending.
    func decision(_ command: DomainCommand, at now: Int64) throws -> Decision {
        Decider.decision(
            command, instance: instance, state: try fold(events, instance: instance),
            context: DecisionContext(now: now, challengePolicy: policy, twoFactor: gate))
    }

    /// Decides `command` at `now` and appends its events.
    @discardableResult
    mutating func run(_ command: DomainCommand, at now: Int64) throws -> Decision {
        let decision = try decision(command, at: now)
        events += decision.events
        return decision
    }
}
