/// The rules of two-factor authentication (spec §6): challenges created for a protected
/// request, TANs transmitted and confirmed, challenges consumed by the repeated request,
/// logins blocked after repeated failures.
///
/// Expired challenges are unknown to the challenge endpoints (404, code 2126); for the
/// repeated request they are one more unusable challenge (403, code 2031).
///
/// Failed confirmations count towards the login block whatever operation the challenge
/// protects (spec §10.4), and while the block lasts no challenge of any operation is created,
/// sent, confirmed or consumed (403, code 2131): so guessing TANs has one overall cap per
/// instance, not one per operation.
extension Decider {
    static func decideCreateChallenges(
        _ create: CreateChallenges, state: InstanceState, context: DecisionContext
    ) throws(Rejection) -> [DomainEvent] {
        let now = context.now
        if let until = state.loginsBlockedUntil, state.loginsBlocked(at: now) {
            throw .loginsBlocked(until: until)
        }
        let solveExpiry = saturatingAdd(now, context.challengePolicy.solveLifetime)
        var events: [DomainEvent] = []
        var group: ChallengeID?
        var used: Set<ChallengeID> = []
        for channel in create.newIDs.keys.sorted() {
            let address =
                create.addresses.isEmpty ? state.address(for: channel) : create.addresses[channel]
            guard let address, let id = create.newIDs[channel] else { continue }
            guard state.challenges[id] == nil, used.insert(id).inserted else {
                throw .duplicateChallengeID
            }
            let created = ChallengeCreated(
                id: id, operation: create.operation, channel: channel, address: address,
                bodyHash: create.bodyHash, group: group ?? id, combiAnd: create.combiAnd,
                at: now, solveExpiry: solveExpiry)
            group = group ?? id
            events.append(.challengeCreated(created))
        }
        guard !events.isEmpty else { throw .mfaMissing }
        return events
    }

    static func decideTransmission(
        _ transmission: RecordTransmission, state: InstanceState, context: DecisionContext
    ) throws(Rejection) -> [DomainEvent] {
        let now = context.now
        let policy = context.challengePolicy
        let challenge = try liveChallenge(transmission.id, in: state, at: now)
        if let until = state.loginsBlockedUntil, state.loginsBlocked(at: now) {
            throw .loginsBlocked(until: until)
        }
        if challenge.code != nil {
            let earliest = challenge.earliestRetransmission(interval: policy.retransmissionInterval)
            guard now >= earliest else {
                throw .challengeTooEarly(challenge.id, earliestRetransmission: earliest)
            }
        }
        let validUntil = min(saturatingAdd(now, policy.codeLifetime), challenge.solveExpiry)
        let transmitted = ChallengeCodeTransmitted(
            id: challenge.id, tanHash: transmission.tanHash, at: now, validUntil: validUntil,
            attempts: policy.attemptsPerCode)
        return [.challengeCodeTransmitted(transmitted)]
    }

    static func decideConfirm(
        _ confirm: ConfirmChallenge, state: InstanceState, context: DecisionContext
    ) throws(Rejection) -> Decision {
        let now = context.now
        let policy = context.challengePolicy
        let challenge = try liveChallenge(confirm.id, in: state, at: now)
        if let until = state.loginsBlockedUntil, state.loginsBlocked(at: now) {
            throw .loginsBlocked(until: until)
        }
        guard let code = challenge.code, now < code.validUntil, code.attemptsLeft > 0 else {
            throw .challengeTooManyAttempts(challenge.id)
        }
        if code.hash.constantTimeEquals(confirm.tanHash) {
            return Decision(events: [.challengeSolved(ChallengeSolved(id: challenge.id, at: now))])
        }
        let left = code.attemptsLeft - 1
        var events: [DomainEvent] = [
            .challengeAttemptFailed(
                ChallengeAttemptFailed(id: challenge.id, at: now, attemptsLeft: left))
        ]
        if policy.loginBlockThreshold > 0,
            state.challengeFailures >= policy.loginBlockThreshold - 1
        {
            let until = saturatingAdd(now, policy.loginBlockDuration)
            events.append(.instanceLoginsBlocked(InstanceLoginsBlocked(at: now, until: until)))
        }
        return Decision(
            events: events, rejection: .challengeFailed(challenge.id, retryCounter: left))
    }

    static func decideConsume(
        _ consume: ConsumeChallenges, state: InstanceState, context: DecisionContext
    ) throws(Rejection) -> [DomainEvent] {
        let now = context.now
        let ids = Set(consume.ids).sorted()
        guard !ids.isEmpty else { throw .challengesNotUsable(.noChallenges) }
        var challenges: [ChallengeState] = []
        for id in ids {
            guard let challenge = state.challenges[id] else { throw .challengeUnknown(id) }
            challenges.append(challenge)
        }
        for challenge in challenges {
            let id = challenge.id
            guard challenge.operation == consume.operation else {
                throw .challengesNotUsable(.otherOperation(id))
            }
            guard challenge.bodyHash == consume.bodyHash else {
                throw .challengesNotUsable(.bodyChanged(id))
            }
            if case .consumed = challenge.status {
                throw .challengesNotUsable(.alreadyConsumed(id))
            }
            guard !challenge.isExpired(at: now) else { throw .challengesNotUsable(.expired(id)) }
            guard case .solved = challenge.status else {
                throw .challengesNotUsable(.notSolved(id))
            }
            guard challenge.group == challenges[0].group else {
                throw .challengesNotUsable(.mixedGroups)
            }
        }
        if challenges[0].combiAnd {
            for member in state.challenges(inGroup: challenges[0].group)
            where !ids.contains(member.id) {
                throw .challengesNotUsable(.groupIncomplete(missing: member.id))
            }
        }
        if let until = state.loginsBlockedUntil, state.loginsBlocked(at: now) {
            throw .loginsBlocked(until: until)
        }
        return challenges.map { challenge in
            .challengeConsumed(
                ChallengeConsumed(id: challenge.id, at: now, operation: consume.operation))
        }
    }

    static func decideExpire(state: InstanceState, context: DecisionContext) -> [DomainEvent] {
        state.challenges.values
            .filter { challenge in
                switch challenge.status {
                case .pending, .solved: challenge.isExpired(at: context.now)
                case .consumed, .expired: false
                }
            }
            .map(\.id)
            .sorted()
            .map { .challengeExpired(ChallengeExpired(id: $0, at: context.now)) }
    }

    /// The challenge `id` if it is known and not expired at `now`, and neither solved nor
    /// consumed.
    ///
    /// - Throws: ``Rejection/challengeUnknown(_:)`` (404, 2126) for an unknown or expired
    ///   id, ``Rejection/challengeSolved(_:)`` (410, 2129) for a solved or consumed one.
    private static func liveChallenge(_ id: ChallengeID, in state: InstanceState, at now: Int64)
        throws(Rejection) -> ChallengeState
    {
        guard let challenge = state.challenges[id], !challenge.isExpired(at: now) else {
            throw .challengeUnknown(id)
        }
        switch challenge.status {
        case .pending: return challenge
        case .solved, .consumed: throw .challengeSolved(id)
        case .expired: throw .challengeUnknown(id)
        }
    }

    private static func saturatingAdd(_ instant: Int64, _ duration: Int64) -> Int64 {
        let (sum, overflow) = instant.addingReportingOverflow(duration)
        return overflow ? (duration > 0 ? .max : .min) : sum
    }
}
