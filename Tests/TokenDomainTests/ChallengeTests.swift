import Testing

@testable import TokenDomain

@Suite("Two-factor challenges: given events, when command, then events or rejection")
struct ChallengeTests {
    typealias F = Fixture
    typealias C = ChallengeFixture

    static let t0 = F.t0
    static let minute = C.minute

    @Test func wholeFlow() throws {
        var story = ChallengeStory()
        // 202: a challenge for the e-mail address.
        let created = try story.run(C.create(), at: Self.t0)
        #expect(
            created
                == Decision(events: [
                    .challengeCreated(
                        ChallengeCreated(
                            id: C.c1, operation: .tokenIssue, channel: .email, address: C.email,
                            bodyHash: C.body, group: C.c1, combiAnd: false, at: Self.t0,
                            solveExpiry: Self.t0 + F.hour))
                ]))
        // Request a TAN.
        let sent = try story.run(C.transmit(), at: Self.t0 + 1)
        #expect(
            sent.events == [
                .challengeCodeTransmitted(
                    ChallengeCodeTransmitted(
                        id: C.c1, tanHash: C.tanHash(C.tan), at: Self.t0 + 1,
                        validUntil: Self.t0 + 1 + 15 * Self.minute, attempts: 3))
            ])
        #expect(sent.rejection == nil)
        // Wrong TAN: recorded, and 409 with the counter down.
        let wrong = try story.run(C.confirm(tan: C.wrongTAN), at: Self.t0 + 2)
        #expect(
            wrong.events == [
                .challengeAttemptFailed(
                    ChallengeAttemptFailed(id: C.c1, at: Self.t0 + 2, attemptsLeft: 2))
            ])
        #expect(wrong.rejection == .challengeFailed(C.c1, retryCounter: 2))
        #expect(wrong.rejection?.retryCounter == 2)
        #expect(wrong.rejection?.errorCode.code == 2125)
        #expect(wrong.rejection?.errorCode.httpStatus == 409)
        #expect(try story.state().challenge(C.c1)?.code?.attemptsLeft == 2)
        // Right TAN: solved, the address validated.
        #expect(try story.state().emailValidated == false)
        let right = try story.run(C.confirm(), at: Self.t0 + 3)
        #expect(
            right
                == Decision(events: [.challengeSolved(ChallengeSolved(id: C.c1, at: Self.t0 + 3))]))
        #expect(try story.state().emailValidated)
        #expect(try story.state().phoneValidated == false)
        // The repeated request: consumed, then the operation is allowed.
        let consumed = try story.run(C.consume(), at: Self.t0 + 4)
        #expect(
            consumed.events == [
                .challengeConsumed(
                    ChallengeConsumed(id: C.c1, at: Self.t0 + 4, operation: .tokenIssue))
            ])
        #expect(try story.decision(C.issueWithPassword, at: Self.t0 + 4).rejection == nil)
        #expect(try story.state().challenge(C.c1)?.status == .consumed(at: Self.t0 + 4))
        // Once only.
        let again = try story.decision(C.consume(), at: Self.t0 + 5)
        #expect(again == Decision(rejection: .challengesNotUsable(.alreadyConsumed(C.c1))))
        #expect(again.rejection?.errorCode.httpStatus == 403)
        #expect(
            try story.decision(C.transmit(), at: Self.t0 + F.hour / 2).rejection
                == .challengeSolved(C.c1))
    }

    @Test func decideThrowsWhatDecisionAnswers() throws {
        var story = ChallengeStory()
        try story.run(C.create(), at: Self.t0)
        try story.run(C.transmit(), at: Self.t0)
        let result = try decide(given: story.events, when: C.confirm(tan: C.wrongTAN), now: Self.t0)
        #expect(result.rejection == .challengeFailed(C.c1, retryCounter: 2))
        #expect(try decide(given: story.events, when: C.confirm(), now: Self.t0).events.count == 1)
    }

    // MARK: failures of the challenge endpoints

    @Test func unknownChallenge() throws {
        var story = ChallengeStory()
        try story.run(C.create(), at: Self.t0)
        for command in [C.transmit(C.c2), C.confirm(C.c2)] {
            let decision = try story.decision(command, at: Self.t0)
            #expect(decision == Decision(rejection: .challengeUnknown(C.c2)))
            #expect(decision.rejection?.errorCode.code == 2126)
            #expect(decision.rejection?.errorCode.httpStatus == 404)
        }
        #expect(
            try story.decision(C.consume([C.c2]), at: Self.t0).rejection == .challengeUnknown(C.c2))
    }

    @Test func anotherInstancesChallengeIsUnknown() throws {
        var other = ChallengeStory()
        other.instance = F.other
        try other.run(C.create(), at: Self.t0)
        try other.run(C.transmit(), at: Self.t0)
        try other.run(C.confirm(), at: Self.t0)
        #expect(try other.decision(C.consume(), at: Self.t0).rejection == nil)
        let shop = ChallengeStory()
        #expect(try shop.decision(C.consume(), at: Self.t0).rejection == .challengeUnknown(C.c1))
        #expect(try shop.decision(C.confirm(), at: Self.t0).rejection == .challengeUnknown(C.c1))
    }

    @Test func solvedChallengeIsGone() throws {
        var story = ChallengeStory()
        try story.run(C.create(), at: Self.t0)
        try story.run(C.transmit(), at: Self.t0)
        try story.run(C.confirm(), at: Self.t0)
        for command in [C.transmit(), C.confirm()] {
            let decision = try story.decision(command, at: Self.t0 + 2 * Self.minute)
            #expect(decision == Decision(rejection: .challengeSolved(C.c1)))
            #expect(decision.rejection?.errorCode.code == 2129)
            #expect(decision.rejection?.errorCode.httpStatus == 410)
        }
    }

    @Test func retransmissionTiming() throws {
        var story = ChallengeStory()
        try story.run(C.create(), at: Self.t0)
        // The first TAN may go at once.
        #expect(try story.run(C.transmit(), at: Self.t0).rejection == nil)
        #expect(
            try story.state().challenge(C.c1)?.earliestRetransmission(interval: Self.minute) == Self
                .t0 + Self.minute)
        let early = try story.decision(C.transmit(tan: "1"), at: Self.t0 + Self.minute - 1)
        #expect(
            early
                == Decision(
                    rejection: .challengeTooEarly(
                        C.c1, earliestRetransmission: Self.t0 + Self.minute)))
        #expect(early.rejection?.errorCode.code == 2130)
        #expect(early.rejection?.errorCode.httpStatus == 429)
        #expect(try story.run(C.transmit(tan: "1"), at: Self.t0 + Self.minute).rejection == nil)
        // A configured interval.
        story.policy.retransmissionInterval = 5 * Self.minute
        #expect(try story.decision(C.transmit(), at: Self.t0 + 5 * Self.minute).rejection != nil)
        #expect(try story.decision(C.transmit(), at: Self.t0 + 6 * Self.minute).rejection == nil)
    }

    @Test func attemptsPerCode() throws {
        var story = ChallengeStory()
        try story.run(C.create(), at: Self.t0)
        // No TAN sent yet: one must be requested.
        #expect(
            try story.decision(C.confirm(), at: Self.t0).rejection
                == .challengeTooManyAttempts(C.c1))
        try story.run(C.transmit(), at: Self.t0)
        for left in [UInt8(2), 1, 0] {
            #expect(
                try story.run(C.confirm(tan: C.wrongTAN), at: Self.t0 + 1).rejection
                    == .challengeFailed(C.c1, retryCounter: left))
        }
        // Used up, even the right TAN: 429, code 2127.
        let used = try story.decision(C.confirm(), at: Self.t0 + 2)
        #expect(used == Decision(rejection: .challengeTooManyAttempts(C.c1)))
        #expect(used.rejection?.errorCode.code == 2127)
        #expect(used.rejection?.errorCode.httpStatus == 429)
        // A new TAN gives 3 attempts again; the old one no longer works.
        try story.run(C.transmit(tan: "222"), at: Self.t0 + Self.minute)
        #expect(
            try story.run(C.confirm(), at: Self.t0 + Self.minute).rejection
                == .challengeFailed(C.c1, retryCounter: 2))
        #expect(try story.run(C.confirm(tan: "222"), at: Self.t0 + Self.minute).rejection == nil)
    }

    @Test func codeValidityWindow() throws {
        var story = ChallengeStory()
        story.policy.codeLifetime = 10 * Self.minute
        try story.run(C.create(), at: Self.t0)
        try story.run(C.transmit(), at: Self.t0)
        #expect(
            try story.decision(C.confirm(), at: Self.t0 + 10 * Self.minute - 1).rejection == nil)
        #expect(
            try story.decision(C.confirm(), at: Self.t0 + 10 * Self.minute).rejection
                == .challengeTooManyAttempts(C.c1))
        // Never beyond the solve expiry.
        story.policy.codeLifetime = 2 * F.hour
        try story.run(C.transmit(tan: "9"), at: Self.t0 + 30 * Self.minute)
        #expect(try story.state().challenge(C.c1)?.code?.validUntil == Self.t0 + F.hour)
    }

    @Test func expiryCountsAsUnknown() throws {
        var story = ChallengeStory()
        story.policy.codeLifetime = 2 * F.hour
        try story.run(C.create(), at: Self.t0)
        try story.run(C.transmit(), at: Self.t0)
        let end = Self.t0 + F.hour
        #expect(try story.decision(C.confirm(), at: end - 1).rejection == nil)
        #expect(try story.decision(C.confirm(), at: end).rejection == .challengeUnknown(C.c1))
        #expect(try story.decision(C.transmit(), at: end).rejection == .challengeUnknown(C.c1))
        // The sweep records it, once.
        #expect(try story.run(.expireChallenges(ExpireChallenges()), at: end - 1).events == [])
        #expect(
            try story.run(.expireChallenges(ExpireChallenges()), at: end).events == [
                .challengeExpired(ChallengeExpired(id: C.c1, at: end))
            ])
        #expect(try story.state().challenge(C.c1)?.status == .expired(at: end))
        #expect(try story.decision(.expireChallenges(ExpireChallenges()), at: end + 1).events == [])
        #expect(try story.decision(C.confirm(), at: end).rejection == .challengeUnknown(C.c1))
    }

    @Test func solvedButExpiredCannotBeConsumed() throws {
        var story = ChallengeStory()
        try story.run(C.create(), at: Self.t0)
        try story.run(C.transmit(), at: Self.t0)
        try story.run(C.confirm(), at: Self.t0)
        let end = Self.t0 + F.hour
        #expect(try story.decision(C.consume(), at: end - 1).rejection == nil)
        #expect(
            try story.decision(C.consume(), at: end).rejection
                == .challengesNotUsable(.expired(C.c1)))
        try story.run(.expireChallenges(ExpireChallenges()), at: end)
        #expect(
            try story.decision(C.consume(), at: end).rejection
                == .challengesNotUsable(.expired(C.c1)))
    }

    // MARK: creating

    @Test func oneChallengePerChannelWithAnAddress() throws {
        let both: [TANChannel: ChallengeID] = [.email: C.c1, .sms: C.c2]
        let created = try ChallengeStory().decision(
            C.create(ids: both, combiAnd: true), at: Self.t0)
        let channels = created.events.compactMap { event -> (TANChannel, String, ChallengeID)? in
            guard case .challengeCreated(let c) = event else { return nil }
            #expect(c.combiAnd)
            return (c.channel, c.address, c.group)
        }
        #expect(channels.map(\.0) == [.sms, .email])
        #expect(channels.map(\.1) == [C.phone, C.email])
        #expect(channels.map(\.2) == [C.c2, C.c2])
        // Only e-mail known: only an e-mail challenge.
        let emailOnly = ChallengeStory([F.created(email: C.email)])
        #expect(try emailOnly.decision(C.create(ids: both), at: Self.t0).events.count == 1)
        // No address for any usable channel: 403, code 2031.
        let none = try ChallengeStory([F.created()]).decision(C.create(ids: both), at: Self.t0)
        #expect(none == Decision(rejection: .mfaMissing))
        #expect(none.rejection?.errorCode.code == 2031)
        #expect(none.rejection?.errorCode.httpStatus == 403)
        let smsHelperOnly = try emailOnly.decision(C.create(ids: [.sms: C.c1]), at: Self.t0)
        #expect(smsHelperOnly.rejection == .mfaMissing)
    }

    @Test func duplicateChallengeIDIsAnInvariantFailure() throws {
        var story = ChallengeStory()
        try story.run(C.create(), at: Self.t0)
        let again = try story.decision(C.create(), at: Self.t0)
        #expect(again.rejection == .duplicateChallengeID)
        #expect(again.rejection?.errorCode.code == 60)
        let same = try ChallengeStory().decision(
            C.create(ids: [.email: C.c1, .sms: C.c1]), at: Self.t0)
        #expect(same.rejection == .duplicateChallengeID)
    }

    @Test func deletedInstance() throws {
        let story = ChallengeStory([C.created, .instanceDeleted(InstanceDeleted(at: Self.t0))])
        #expect(try story.decision(C.create(), at: Self.t0).rejection == .instanceDeleted)
        #expect(
            try ChallengeStory([]).decision(C.confirm(), at: Self.t0).rejection == .instanceUnknown)
    }

    // MARK: consuming

    @Test func combiAndNeedsTheWholeGroup() throws {
        var story = ChallengeStory()
        try story.run(C.create(ids: [.email: C.c1, .sms: C.c2], combiAnd: true), at: Self.t0)
        try story.run(C.transmit(C.c1), at: Self.t0)
        try story.run(C.transmit(C.c2, tan: "555"), at: Self.t0)
        try story.run(C.confirm(C.c1), at: Self.t0 + 1)
        #expect(
            try story.decision(C.consume([C.c1]), at: Self.t0 + 2).rejection
                == .challengesNotUsable(.groupIncomplete(missing: C.c2)))
        #expect(
            try story.decision(C.consume([C.c1, C.c2]), at: Self.t0 + 2).rejection
                == .challengesNotUsable(.notSolved(C.c2)))
        try story.run(C.confirm(C.c2, tan: "555"), at: Self.t0 + 2)
        #expect(try story.state().phoneValidated)
        let both = try story.run(C.consume([C.c2, C.c1, C.c1]), at: Self.t0 + 3)
        #expect(
            both.events
                == [C.c1, C.c2].map {
                    .challengeConsumed(
                        ChallengeConsumed(id: $0, at: Self.t0 + 3, operation: .tokenIssue))
                })
    }

    @Test func withoutCombiAndAnyOneSuffices() throws {
        var story = ChallengeStory()
        try story.run(C.create(ids: [.email: C.c1, .sms: C.c2], combiAnd: false), at: Self.t0)
        try story.run(C.transmit(C.c2), at: Self.t0)
        try story.run(C.confirm(C.c2), at: Self.t0)
        #expect(
            try story.decision(C.consume([C.c1]), at: Self.t0).rejection
                == .challengesNotUsable(.notSolved(C.c1)))
        #expect(
            try story.decision(C.consume([C.c2, C.c1]), at: Self.t0).rejection
                == .challengesNotUsable(.notSolved(C.c1)))
        #expect(try story.run(C.consume([C.c2]), at: Self.t0).events.count == 1)
        #expect(
            try story.decision(C.consume([C.c2]), at: Self.t0).rejection
                == .challengesNotUsable(.alreadyConsumed(C.c2)))
    }

    static let refusals: [(DomainCommand, Rejection)] = [
        (C.consume([]), .challengesNotUsable(.noChallenges)),
        (C.consume([C.c1], .credentialChange), .challengesNotUsable(.otherOperation(C.c1))),
        (C.consume([C.c1], .instanceDeletion), .challengesNotUsable(.otherOperation(C.c1))),
        (C.consume([C.c1], body: C.otherBody), .challengesNotUsable(.bodyChanged(C.c1))),
        (C.consume([C.c1, C.c3]), .challengesNotUsable(.mixedGroups)),
        (C.consume([C.c4]), .challengesNotUsable(.notSolved(C.c4))),
        (C.consume([C.c1, ChallengeID("nope")!]), .challengeUnknown(ChallengeID("nope")!)),
    ]

    @Test("a repeated request that does not fit is refused", arguments: refusals)
    func consumeRefusals(command: DomainCommand, rejection: Rejection) throws {
        var story = ChallengeStory()
        try story.run(C.create(), at: Self.t0)
        try story.run(C.create(ids: [.email: C.c3]), at: Self.t0)
        try story.run(C.create(ids: [.email: C.c4]), at: Self.t0)
        for id in [C.c1, C.c3] {
            try story.run(C.transmit(id), at: Self.t0)
            try story.run(C.confirm(id), at: Self.t0)
        }
        let decision = try story.decision(command, at: Self.t0 + 1)
        #expect(decision == Decision(rejection: rejection))
        #expect(
            decision.rejection?.errorCode.code
                == (rejection == .challengeUnknown(ChallengeID("nope")!) ? 2126 : 2031))
        #expect(try story.decision(C.consume([C.c1]), at: Self.t0 + 1).rejection == nil)
    }

    // MARK: blocking logins

    /// Spec §10.4: failures of every operation's challenges count towards the one block (a
    /// regression: credential-change and deletion challenges had no overall cap).
    @Test func repeatedFailuresOfAnyOperationBlockLoginsAndChallenges() throws {
        var policy = ChallengePolicy.default
        policy.loginBlockThreshold = 4
        policy.loginBlockDuration = F.hour
        var story = ChallengeStory(policy: policy)
        try story.run(C.create(), at: Self.t0)
        try story.run(C.create(.credentialChange, ids: [.email: C.c2]), at: Self.t0)
        try story.run(C.transmit(C.c2), at: Self.t0)
        for _ in 0..<3 { try story.run(C.confirm(C.c2, tan: C.wrongTAN), at: Self.t0) }
        #expect(try story.state().challengeFailures == 3)
        try story.run(C.transmit(), at: Self.t0 + Self.minute)
        let now = Self.t0 + 2 * Self.minute
        let fourth = try story.run(C.confirm(tan: C.wrongTAN), at: now)
        #expect(
            fourth
                == Decision(
                    events: [
                        .challengeAttemptFailed(
                            ChallengeAttemptFailed(id: C.c1, at: now, attemptsLeft: 2)),
                        .instanceLoginsBlocked(InstanceLoginsBlocked(at: now, until: now + F.hour)),
                    ], rejection: .challengeFailed(C.c1, retryCounter: 2)))
        let state = try story.state()
        #expect(state.loginsBlocked(at: now))
        #expect(state.challengeFailures == 0)
        // While blocked: 403, code 2131 for password logins and every operation's challenges.
        let blocked = Rejection.loginsBlocked(until: now + F.hour)
        #expect(blocked.errorCode.code == 2131)
        #expect(blocked.errorCode.httpStatus == 403)
        for command in [
            C.issueWithPassword, C.confirm(), C.transmit(), C.create(ids: [.email: C.c3]),
            C.create(.instanceDeletion, ids: [.email: C.c3]),
            C.create(.addressChange, ids: [.email: C.c3]), C.transmit(C.c2), C.confirm(C.c2),
        ] {
            #expect(try story.decision(command, at: now + 1).rejection == blocked)
        }
        #expect(try story.decision(C.issueWithPassword, at: now + F.hour - 1).rejection == blocked)
        // The block ends by time.
        #expect(try story.decision(C.issueWithPassword, at: now + F.hour).rejection == nil)
        #expect(try story.run(.unblockLogins(UnblockLogins()), at: now + F.hour - 1).events == [])
        #expect(
            try story.run(.unblockLogins(UnblockLogins()), at: now + F.hour).events == [
                .instanceLoginsUnblocked(InstanceLoginsUnblocked(at: now + F.hour))
            ])
        #expect(try story.state().loginsBlockedUntil == nil)
        #expect(try story.decision(.unblockLogins(UnblockLogins()), at: now + F.hour).events == [])
    }

    @Test func refreshingWithATokenIsNotBlocked() throws {
        let story = ChallengeStory([
            C.created, F.issued(1, F.scope("all:refreshable")),
            .instanceLoginsBlocked(InstanceLoginsBlocked(at: Self.t0, until: Self.t0 + F.hour)),
        ])
        let refresh = DomainCommand.issueToken(
            IssueToken(
                scope: .readonly, newTokenHash: F.hash(9), authenticatedBy: .token(F.hash(1))))
        #expect(try story.decision(refresh, at: Self.t0 + 1).rejection == nil)
        #expect(
            try story.decision(C.issueWithPassword, at: Self.t0 + 1).rejection
                == .loginsBlocked(until: Self.t0 + F.hour))
    }

    @Test func aSolvedChallengeOfAnyOperationResetsTheCount() throws {
        var story = ChallengeStory()
        try story.run(C.create(), at: Self.t0)
        try story.run(C.create(.instanceDeletion, ids: [.email: C.c2]), at: Self.t0)
        try story.run(C.transmit(), at: Self.t0)
        try story.run(C.transmit(C.c2), at: Self.t0)
        try story.run(C.confirm(tan: C.wrongTAN), at: Self.t0)
        #expect(try story.state().challengeFailures == 1)
        try story.run(C.confirm(C.c2), at: Self.t0)
        #expect(try story.state().challengeFailures == 0)
    }

    @Test func blockingCanBeDisabled() throws {
        var policy = ChallengePolicy.default
        policy.loginBlockThreshold = 0
        var story = ChallengeStory(policy: policy)
        try story.run(C.create(), at: Self.t0)
        try story.run(C.transmit(), at: Self.t0)
        #expect(try story.run(C.confirm(tan: C.wrongTAN), at: Self.t0).events.count == 1)
    }

    // MARK: the fold

    @Test func addressesAreValidatedOnlyWhileUnchanged() throws {
        var story = ChallengeStory()
        try story.run(C.create(), at: Self.t0)
        try story.run(C.transmit(), at: Self.t0)
        story.events.append(
            .instanceDetailsUpdated(
                InstanceDetailsUpdated(
                    at: Self.t0, name: "Shop One", email: "new@example.com", phoneNumber: C.phone,
                    details: [])))
        try story.run(C.confirm(), at: Self.t0)
        #expect(try story.state().emailValidated == false)
    }

    @Test func foldRejectsEventsThatDoNotFit() throws {
        var state = try #require(try fold([C.created]))
        let solved = DomainEvent.challengeSolved(ChallengeSolved(id: C.c1, at: 0))
        #expect(
            throws: FoldError(
                instance: F.shop, tag: .challengeSolved, problem: .challengeUnknown(C.c1))
        ) {
            try state.apply(solved)
        }
        try state.apply(C.examples[0])
        #expect(
            throws: FoldError(
                instance: F.shop, tag: .challengeCreated, problem: .challengeAlreadyExists(C.c1))
        ) {
            try state.apply(C.examples[0])
        }
        let failed = DomainEvent.challengeAttemptFailed(
            ChallengeAttemptFailed(id: C.c1, at: 0, attemptsLeft: 0))
        #expect(
            throws: FoldError(
                instance: F.shop, tag: .challengeAttemptFailed,
                problem: .challengeStatusMismatch(C.c1))
        ) {
            try state.apply(failed)
        }
        let consumed = DomainEvent.challengeConsumed(
            ChallengeConsumed(id: C.c1, at: 0, operation: .tokenIssue))
        #expect(
            throws: FoldError(
                instance: F.shop, tag: .challengeConsumed, problem: .challengeStatusMismatch(C.c1))
        ) {
            try state.apply(consumed)
        }
        try state.apply(solved)
        #expect(
            throws: FoldError(
                instance: F.shop, tag: .challengeSolved, problem: .challengeStatusMismatch(C.c1))
        ) {
            try state.apply(solved)
        }
    }

    // MARK: no secret anywhere

    @Test func noTANInEventsRejectionsOrDescriptions() throws {
        var story = ChallengeStory()
        var texts: [String] = []
        var decisions: [Decision] = []
        decisions.append(
            try story.run(C.create(ids: [.email: C.c1, .sms: C.c2], combiAnd: true), at: Self.t0))
        decisions.append(try story.run(C.transmit(), at: Self.t0))
        decisions.append(try story.run(C.transmit(), at: Self.t0 + 1))
        decisions.append(try story.run(C.confirm(tan: C.wrongTAN), at: Self.t0 + 2))
        decisions.append(try story.run(C.confirm(), at: Self.t0 + 3))
        decisions.append(try story.run(C.consume(), at: Self.t0 + 4))
        decisions.append(try story.run(C.confirm(), at: Self.t0 + 4))
        for decision in decisions {
            texts.append(String(describing: decision))
            texts.append(String(reflecting: decision))
            if let rejection = decision.rejection {
                texts.append(rejection.description)
                texts.append(rejection.hint)
            }
        }
        for event in story.events {
            texts.append(String(describing: event))
            texts.append(String(reflecting: event))
            let (_, payload) = EventCodec.encode(event)
            texts.append(String(decoding: payload, as: UTF8.self))
        }
        let state = try story.state()
        texts.append(String(describing: state.challenges))
        texts.append(String(reflecting: state.challenges))
        var dumped = ""
        dump(state.challenges, to: &dumped)
        texts.append(dumped)
        var dumpedEvents = ""
        dump(story.events, to: &dumpedEvents)
        texts.append(dumpedEvents)
        let secrets = [
            C.tan, C.wrongTAN, C.tanHash(C.tan).digest.description,
            C.tanHash(C.wrongTAN).digest.description,
        ]
        for text in texts {
            for secret in secrets {
                #expect(!text.contains(secret))
            }
        }
        #expect(String(describing: C.tanHash(C.tan)) == "TANHash(redacted)")
        #expect(texts.contains { $0.contains("C1") })
    }
}
