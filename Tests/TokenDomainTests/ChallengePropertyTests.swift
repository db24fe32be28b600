import Testing

@testable import TokenDomain

/// A random but reproducible run of the two-factor commands over two instances at explicit,
/// increasing instants: every decision's events appended, refusals included, as the engine
/// does.
struct ChallengeSimulation {
    typealias C = ChallengeFixture

    var random: SeededRandom
    var state = ServerState()
    var log: [StoredEvent] = []
    var now = Fixture.t0
    var nextID = 0
    var codes: [InstanceID: [ChallengeID: String]] = [:]
    var recent: [InstanceID: [ChallengeID]] = [:]
    var rejections: [Int: Int] = [:]
    var policy = ChallengePolicy(
        solveLifetime: 20 * ChallengeFixture.minute, codeLifetime: 5 * ChallengeFixture.minute,
        retransmissionInterval: ChallengeFixture.minute, attemptsPerCode: 3,
        loginBlockThreshold: 3, loginBlockDuration: 30 * ChallengeFixture.minute)
    let instances = [Fixture.shop, Fixture.other]

    init(seed: UInt64) {
        random = SeededRandom(seed: seed)
        for id in instances {
            let created = Fixture.created(
                email: C.email, phone: random.chance(0.5) ? C.phone : nil)
            try! state.apply(StoredEvent(instance: id, event: created))
            log.append(StoredEvent(instance: id, event: created))
        }
    }

    mutating func run(steps: Int) {
        for _ in 0..<steps { step() }
    }

    mutating func step() {
        now += Int64.random(in: 0...(C.minute * 2), using: &random)
        let id = instances.randomElement(using: &random)!
        let instance = state[id]!
        // Mostly the latest challenges, which are likelier to be alive.
        let latest = recent[id, default: []]
        let pick =
            latest.isEmpty || random.chance(0.03)
            ? ChallengeID("none")! : latest.randomElement(using: &random)!
        let command: DomainCommand
        if random.chance(0.3), let challenge = instance.challenge(pick) {
            command = happyPath(challenge, in: instance)
        } else {
            command = randomCommand(pick: pick, in: instance, id: id)
        }
        let decision = state.decision(
            command, for: id, context: DecisionContext(now: now, challengePolicy: policy))
        for event in decision.events {
            if case .challengeCreated(let created) = event {
                recent[id, default: []].append(created.id)
                recent[id] = Array(recent[id]!.suffix(3))
            }
            let stored = StoredEvent(instance: id, event: event)
            try! state.apply(stored)
            log.append(stored)
        }
        if let rejection = decision.rejection {
            rejections[rejection.errorCode.code, default: 0] += 1
        }
    }

    /// The next step a diligent client would take for `challenge`.
    mutating func happyPath(_ challenge: ChallengeState, in instance: InstanceState)
        -> DomainCommand
    {
        switch challenge.status {
        case .pending where challenge.code == nil || challenge.code?.attemptsLeft == 0:
            let tan = String(UInt32.random(in: 0...99_999_999, using: &random))
            codes[instance.id, default: [:]][challenge.id] = tan
            return .recordTransmission(
                RecordTransmission(id: challenge.id, tanHash: C.tanHash(tan)))
        case .pending:
            let tan = codes[instance.id]?[challenge.id] ?? "0"
            return .confirmChallenge(ConfirmChallenge(id: challenge.id, tanHash: C.tanHash(tan)))
        default:
            let ids = instance.challenges(inGroup: challenge.group).map(\.id)
            return .consumeChallenges(
                ConsumeChallenges(
                    ids: challenge.combiAnd ? ids : [challenge.id], operation: challenge.operation,
                    bodyHash: challenge.bodyHash))
        }
    }

    mutating func randomCommand(pick: ChallengeID, in instance: InstanceState, id: InstanceID)
        -> DomainCommand
    {
        let body = random.chance(0.9) ? C.body : C.otherBody
        let operation = random.chance(0.7) ? ProtectedOperation.tokenIssue : .credentialChange
        let command: DomainCommand
        switch Int.random(in: 0..<100, using: &random) {
        case 0..<15:
            var ids: [TANChannel: ChallengeID] = [:]
            for channel in TANChannel.allCases {
                nextID += 1
                ids[channel] = ChallengeID("S\(nextID)")!
            }
            command = .createChallenges(
                CreateChallenges(
                    operation: operation, bodyHash: C.body, newIDs: ids,
                    combiAnd: random.chance(0.5)))
        case 15..<35:
            let tan = String(UInt32.random(in: 0...99_999_999, using: &random))
            codes[id, default: [:]][pick] = tan
            command = .recordTransmission(RecordTransmission(id: pick, tanHash: C.tanHash(tan)))
        case 35..<70:
            let right = codes[id]?[pick] ?? "0"
            let tan = random.chance(0.2) ? right : "x\(right)"
            command = .confirmChallenge(ConfirmChallenge(id: pick, tanHash: C.tanHash(tan)))
        case 70..<85:
            let group = instance.challenge(pick)?.group ?? pick
            let ids = random.chance(0.7) ? instance.challenges(inGroup: group).map(\.id) : [pick]
            let own = instance.challenge(pick)?.operation ?? operation
            command = .consumeChallenges(
                ConsumeChallenges(
                    ids: ids, operation: random.chance(0.9) ? own : operation, bodyHash: body))
        case 85..<90:
            command = .expireChallenges(ExpireChallenges())
        case 90..<95:
            command = .unblockLogins(UnblockLogins())
        default:
            command = C.issueWithPassword
        }
        return command
    }
}

@Suite("Two-factor properties over random runs")
struct ChallengePropertyTests {
    static let seeds: [UInt64] = [1, 2, 3, 0xBEEF]

    @Test("replaying the log reproduces the challenge states", arguments: seeds)
    func replay(seed: UInt64) throws {
        var simulation = ChallengeSimulation(seed: seed)
        simulation.run(steps: 2500)
        var replayed = ServerState()
        var decoded = ServerState()
        for stored in simulation.log {
            try replayed.apply(stored)
            let (tag, payload) = EventCodec.encode(stored.event)
            try decoded.apply(
                StoredEvent(
                    instance: stored.instance, event: EventCodec.decode(tag: tag, payload: payload))
            )
        }
        #expect(replayed == simulation.state)
        #expect(decoded == simulation.state)
        for (id, instance) in simulation.state.instances {
            #expect(replayed[id]?.challenges == instance.challenges, "seed \(seed)")
            #expect(replayed[id]?.loginsBlockedUntil == instance.loginsBlockedUntil)
            #expect(replayed[id]?.challengeFailures == instance.challengeFailures)
        }
        #expect(replayed.digestBytes() == simulation.state.digestBytes())
        // The run reached every answer.
        for code in [2125, 2126, 2127, 2129, 2130, 2131, 2031] {
            #expect(simulation.rejections[code, default: 0] > 0, "code \(code), seed \(seed)")
        }
        var tags = Set<EventTag>()
        for stored in simulation.log { tags.insert(stored.event.tag) }
        #expect(
            tags.isSuperset(of: EventTag.allCases.filter { $0.rawValue.hasPrefix("challenge") }))
        #expect(tags.contains(.instanceLoginsBlocked))
        #expect(tags.contains(.instanceLoginsUnblocked))
    }

    @Test(
        "snapshots with challenges round trip, and snapshot + tail = whole fold", arguments: seeds)
    func snapshots(seed: UInt64) throws {
        var simulation = ChallengeSimulation(seed: seed)
        simulation.run(steps: 1500)
        SnapshotTests.expectRestored(
            try SnapshotTests.roundTripped(simulation.state), equals: simulation.state)
        var random = SeededRandom(seed: seed ^ 0x5A)
        for _ in 0..<5 {
            let position = Int.random(in: 0...simulation.log.count, using: &random)
            var head = ServerState()
            for event in simulation.log[..<position] { try head.apply(event) }
            var restored = try SnapshotTests.roundTripped(head)
            for event in simulation.log[position...] { try restored.apply(event) }
            SnapshotTests.expectRestored(restored, equals: simulation.state)
        }
    }

    @Test(
        "invariants: consumed only after solved, attempts never grow without a new code",
        arguments: seeds)
    func invariants(seed: UInt64) throws {
        var simulation = ChallengeSimulation(seed: seed)
        simulation.run(steps: 2000)
        var solved: Set<[String]> = []
        for stored in simulation.log {
            let key = { (id: ChallengeID) in [stored.instance.rawValue, id.rawValue] }
            switch stored.event {
            case .challengeSolved(let event): solved.insert(key(event.id))
            case .challengeConsumed(let event): #expect(solved.contains(key(event.id)))
            default: break
            }
        }
        for instance in simulation.state.instances.values {
            for challenge in instance.challenges.values {
                #expect((challenge.code?.attemptsLeft ?? 0) <= 3)
            }
        }
    }
}
