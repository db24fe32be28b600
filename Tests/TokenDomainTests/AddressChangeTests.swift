import Testing

@testable import TokenDomain

/// Spec §10.1: the first factor never moves the second. An address change is challenged at
/// the current addresses; a new address is proved by a challenge of its own and takes effect,
/// validated, only then. Given events / when a protected command / then events or refusal.
@Suite("Address changes behind the two-factor gate")
struct AddressChangeTests {
    typealias F = Fixture
    typealias C = ChallengeFixture

    static let t0 = F.t0
    static let old = "owner@example.com"
    static let new = "new@example.com"
    static let attacker = "attacker@example.net"
    static let body = C.body
    static let emailHelper = TwoFactorGate(channels: [.email])

    /// An instance the operator created with a vouched e-mail address.
    static let owned: [DomainEvent] = [
        F.created(email: old),
        .instanceAddressValidated(
            InstanceAddressValidated(at: t0, channel: .email, address: old, challenge: nil)),
    ]

    static func patch(
        email: String? = nil, phone: String? = nil, name: String? = nil,
        ids: [ChallengeID]? = nil, newIDs: [TANChannel: ChallengeID] = [.email: C.c1, .sms: C.c2],
        body: RequestBodyHash = body
    ) -> DomainCommand {
        var update = UpdateInstanceDetails()
        if let email { update.email = .set(email) }
        if let phone { update.phoneNumber = .set(phone) }
        if let name { update.name = .set(name) }
        return .protected(
            ProtectedCommand(
                .updateInstanceDetails(update), bodyHash: body, challengeIDs: ids, newIDs: newIDs))
    }

    static func story(_ events: [DomainEvent] = owned, gate: TwoFactorGate = emailHelper)
        -> ChallengeStory
    {
        var story = ChallengeStory(events)
        story.gate = gate
        return story
    }

    /// Sends and solves `id`'s TAN.
    static func solve(_ id: ChallengeID, in story: inout ChallengeStory, at now: Int64) throws {
        try story.run(C.transmit(id), at: now)
        #expect(try story.run(C.confirm(id), at: now).rejection == nil)
    }

    @Test func aNewAddressIsAskedAtTheOldOneThenProvedAtTheNewOne() throws {
        var story = Self.story()
        // 1: challenged at the current address; nothing changes.
        let first = try story.run(Self.patch(email: Self.new), at: Self.t0)
        #expect(
            first.events == [
                .challengeCreated(
                    ChallengeCreated(
                        id: C.c1, operation: .addressChange, channel: .email, address: Self.old,
                        bodyHash: Self.body, group: C.c1, combiAnd: false, at: Self.t0,
                        solveExpiry: Self.t0 + F.hour))
            ])
        #expect(try story.state().email == Self.old)
        try Self.solve(C.c1, in: &story, at: Self.t0 + 1)
        // 2: the repeated request consumes it and challenges the new address.
        let second = try story.run(
            Self.patch(email: Self.new, ids: [C.c1], newIDs: [.email: C.c3]), at: Self.t0 + 2)
        #expect(
            second.events == [
                .challengeConsumed(
                    ChallengeConsumed(id: C.c1, at: Self.t0 + 2, operation: .addressChange)),
                .challengeCreated(
                    ChallengeCreated(
                        id: C.c3, operation: .addressValidation, channel: .email,
                        address: Self.new, bodyHash: Self.body, group: C.c3, combiAnd: true,
                        at: Self.t0 + 2, solveExpiry: Self.t0 + 2 + F.hour)),
            ])
        // Until the new address is proved, challenges still go to the old one.
        #expect(try story.state().email == Self.old)
        #expect(try story.state().emailValidated)
        let meanwhile = try story.decision(
            C.create(.tokenIssue, ids: [.email: C.c4]), at: Self.t0 + 3)
        guard case .challengeCreated(let login)? = meanwhile.events.first else {
            Issue.record("no login challenge")
            return
        }
        #expect(login.address == Self.old)
        // The first step's challenge cannot be used again.
        #expect(
            try story.decision(Self.patch(email: Self.new, ids: [C.c1]), at: Self.t0 + 3).rejection
                == .challengesNotUsable(.alreadyConsumed(C.c1)))
        // An unsolved proof is refused.
        #expect(
            try story.decision(Self.patch(email: Self.new, ids: [C.c3]), at: Self.t0 + 3).rejection
                == .challengesNotUsable(.notSolved(C.c3)))
        try Self.solve(C.c3, in: &story, at: Self.t0 + 4)
        // 3: the proof consumed, the address set and recorded validated, in one append.
        let third = try story.run(Self.patch(email: Self.new, ids: [C.c3]), at: Self.t0 + 5)
        #expect(
            third.events == [
                .challengeConsumed(
                    ChallengeConsumed(id: C.c3, at: Self.t0 + 5, operation: .addressValidation)),
                .instanceDetailsUpdated(
                    InstanceDetailsUpdated(
                        at: Self.t0 + 5, name: "Shop One", email: Self.new, phoneNumber: nil,
                        details: Array(#"{"a":1}"#.utf8))),
                .instanceAddressValidated(
                    InstanceAddressValidated(
                        at: Self.t0 + 5, channel: .email, address: Self.new, challenge: C.c3)),
            ])
        let state = try story.state()
        #expect(state.email == Self.new && state.emailValidated)
        // Repeated once more: the address is already the new one, nothing to do.
        #expect(
            try story.decision(Self.patch(email: Self.new, ids: [C.c3]), at: Self.t0 + 6)
                == Decision(events: []))
    }

    @Test func removingTheAddressIsAskedAtIt() throws {
        var story = Self.story()
        let first = try story.run(Self.patch(email: ""), at: Self.t0)
        #expect(first.events.count == 1)
        #expect(try story.state().email == Self.old)
        // Without solving: refused, nothing changes.
        #expect(
            try story.decision(Self.patch(email: "", ids: [C.c1]), at: Self.t0 + 1).rejection
                == .challengesNotUsable(.notSolved(C.c1)))
        try Self.solve(C.c1, in: &story, at: Self.t0 + 1)
        let done = try story.run(Self.patch(email: "", ids: [C.c1]), at: Self.t0 + 2)
        #expect(done.rejection == nil)
        #expect(try story.state().email == nil)
        #expect(!(try story.state().emailValidated))
    }

    @Test func anInstanceWithNoAddressAddsOneOnlyByProvingIt() throws {
        var story = Self.story([F.created()])
        let first = try story.run(Self.patch(email: Self.attacker), at: Self.t0)
        #expect(
            first.events == [
                .challengeCreated(
                    ChallengeCreated(
                        id: C.c1, operation: .addressValidation, channel: .email,
                        address: Self.attacker, bodyHash: Self.body, group: C.c1, combiAnd: true,
                        at: Self.t0, solveExpiry: Self.t0 + F.hour))
            ])
        #expect(try story.state().email == nil)
        try Self.solve(C.c1, in: &story, at: Self.t0 + 1)
        let done = try story.run(Self.patch(email: Self.attacker, ids: [C.c1]), at: Self.t0 + 2)
        #expect(done.events.count == 3)
        #expect(try story.state().email == Self.attacker)
        #expect(try story.state().emailValidated)
    }

    @Test func aProofMadeBeforeTheCurrentAddressesProtectedTheInstanceCannotComplete() throws {
        // The phone has no helper: nothing protects the instance, so adding an e-mail starts
        // at its proof. Then the operator adds an SMS helper: the phone now protects it.
        var story = Self.story([F.created(phone: "+41790000000")])
        try story.run(Self.patch(email: Self.attacker), at: Self.t0)
        try Self.solve(C.c1, in: &story, at: Self.t0 + 1)
        story.gate = TwoFactorGate(channels: [.email, .sms])
        #expect(
            try story.decision(Self.patch(email: Self.attacker, ids: [C.c1]), at: Self.t0 + 2)
                .rejection == .challengesNotUsable(.currentAddressesNotAsked(C.c1)))
        #expect(try story.state().email == nil)
    }

    @Test func anAddressChangeEndsTheOtherOpenAddressChallenges() throws {
        var story = Self.story()
        // Two changes asked at once: to A (c1) and to B (c4).
        try story.run(Self.patch(email: "a@example.com"), at: Self.t0)
        try story.run(
            Self.patch(email: "b@example.com", newIDs: [.email: C.c4], body: C.otherBody),
            at: Self.t0)
        try Self.solve(C.c1, in: &story, at: Self.t0 + 1)
        try Self.solve(C.c4, in: &story, at: Self.t0 + 1)
        try story.run(
            Self.patch(email: "a@example.com", ids: [C.c1], newIDs: [.email: C.c2]),
            at: Self.t0 + 2)
        try Self.solve(C.c2, in: &story, at: Self.t0 + 3)
        let done = try story.run(Self.patch(email: "a@example.com", ids: [C.c2]), at: Self.t0 + 4)
        #expect(
            done.events.contains(.challengeExpired(ChallengeExpired(id: C.c4, at: Self.t0 + 4))))
        // B's solved challenge was asked about an address that is gone.
        #expect(
            try story.decision(
                Self.patch(email: "b@example.com", ids: [C.c4], body: C.otherBody),
                at: Self.t0 + 5
            ).rejection == .challengesNotUsable(.expired(C.c4)))
    }

    @Test func otherFieldsAreNotProtected() throws {
        var story = Self.story()
        let renamed = try story.run(Self.patch(name: "Renamed"), at: Self.t0)
        #expect(renamed.events.count == 1)
        #expect(try story.state().name == "Renamed")
        // Setting the address it already has changes nothing and asks nothing.
        #expect(try story.run(Self.patch(email: Self.old), at: Self.t0 + 1).events == [])
    }

    @Test func withTheGateOffAddressesChangeUnvalidated() throws {
        var story = Self.story(gate: .off)
        let done = try story.run(Self.patch(email: Self.new), at: Self.t0)
        #expect(done.events.count == 1)
        #expect(try story.state().email == Self.new)
        #expect(!(try story.state().emailValidated))
    }

    @Test func combiAndAsksEveryCurrentAddress() throws {
        let events: [DomainEvent] = [F.created(email: Self.old, phone: "+41790000000")]
        var story = Self.story(
            events, gate: TwoFactorGate(channels: [.email, .sms], requireAllChannels: true))
        let first = try story.run(Self.patch(phone: ""), at: Self.t0)
        #expect(first.events.count == 2)
        for case .challengeCreated(let created) in first.events {
            #expect(created.combiAnd && created.operation == .addressChange)
        }
        try Self.solve(C.c1, in: &story, at: Self.t0 + 1)
        #expect(
            try story.decision(Self.patch(phone: "", ids: [C.c1]), at: Self.t0 + 2).rejection
                == .challengesNotUsable(.groupIncomplete(missing: C.c2)))
    }

    @Test func aNewAddressWithoutAHelperIsStoredUnvalidatedAfterTheCurrentOnes() throws {
        var story = Self.story(gate: TwoFactorGate(channels: [.email], mandatory: true))
        try story.run(Self.patch(phone: "+41 79 000 00 00"), at: Self.t0)
        try Self.solve(C.c1, in: &story, at: Self.t0 + 1)
        let done = try story.run(
            Self.patch(phone: "+41 79 000 00 00", ids: [C.c1]), at: Self.t0 + 2)
        #expect(done.rejection == nil)
        let state = try story.state()
        #expect(state.phoneNumber == "+41790000000" && !state.phoneValidated)
    }

    @Test func anUnusableAddressIsRefusedBeforeAnyChallenge() throws {
        let story = Self.story()
        for bad in ["--exec=/bin/sh", "a@b\nBcc: x@y.z", "a b@example.com", "x@-example.com"] {
            #expect(
                try story.decision(Self.patch(email: bad), at: Self.t0)
                    == Decision(rejection: .addressUnusable(.email)), "\(bad)")
        }
    }

    @Test func aCommandThatWouldBeRefusedIsRefusedBeforeAnyChallenge() throws {
        let story = Self.story()
        let external = DomainCommand.protected(
            ProtectedCommand(
                .changeCredentials(ChangeCredentials(auth: .external)), bodyHash: Self.body,
                challengeIDs: nil, newIDs: [.email: C.c1]))
        #expect(
            try story.decision(external, at: Self.t0)
                == Decision(rejection: .externalAuthNotAllowed(onCreation: false)))
    }
}
