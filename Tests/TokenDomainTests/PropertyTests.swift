import Testing

@testable import TokenDomain

/// A random but reproducible run of the decider: commands chosen at random, decided against
/// the live state, their events folded and logged with the instant they were decided at.
struct Simulation {
    typealias F = Fixture

    var random: SeededRandom
    var state = ServerState()
    var log: [(at: Int64, event: StoredEvent)] = []
    var now = Fixture.t0
    var nextHash: UInt64 = 10_000
    var rejections: [Int: Int] = [:]
    let instances = [Fixture.shop, Fixture.other]

    init(seed: UInt64) {
        random = SeededRandom(seed: seed)
    }

    mutating func run(steps: Int) throws {
        for _ in 0..<steps { try step() }
    }

    mutating func step() throws {
        if random.chance(0.7) { now += Int64.random(in: 0...(Fixture.hour / 3), using: &random) }
        let id = instances.randomElement(using: &random)!
        let command = randomCommand(for: state[id])
        let cap: UInt64? =
            random.chance(0.2)
            ? UInt64.random(in: 0...UInt64(2 * Fixture.day), using: &random) : nil
        do {
            let events = try state.decide(
                command, for: id, context: DecisionContext(now: now, maxTokenDuration: cap))
            for event in events {
                let stored = StoredEvent(instance: id, event: event)
                try state.apply(stored)
                log.append((now, stored))
            }
        } catch let rejection as Rejection {
            rejections[rejection.errorCode.code, default: 0] += 1
        }
    }

    mutating func randomCommand(for instance: InstanceState?) -> DomainCommand {
        guard let instance else {
            return .createInstance(
                CreateInstance(id: Fixture.shop, name: "x", auth: .password(Fixture.password))
            )
            .retargeted(random.chance(0.5))
        }
        if !instance.isActive {
            return .deleteInstance(DeleteInstance(purge: random.chance(0.2)))
        }
        if random.chance(0.001) {
            return .deleteInstance(DeleteInstance(purge: random.chance(0.5)))
        }
        let roll = Int.random(in: 0..<200, using: &random)
        switch roll {
        case 0..<5:
            return .changeCredentials(
                ChangeCredentials(
                    auth: random.chance(0.5) ? .external : .password(Fixture.otherPassword)))
        case 5..<8:
            return .updateInstanceDetails(
                UpdateInstanceDetails(email: .set(random.chance(0.5) ? "a@b.c" : nil)))
        case 8..<20:
            return .revokeToken(RevokeToken(hash: randomHash(in: instance)))
        case 20..<30:
            return .deleteToken(
                DeleteToken(
                    serial: TokenSerial(
                        UInt64.random(in: 0...UInt64(instance.tokens.count + 1), using: &random))))
        default:
            nextHash += 1
            let credential: Credential =
                random.chance(0.25)
                ? .password(
                    basic: random.chance(0.5),
                    credentialGeneration: instance.credentialGeneration
                        - (random.chance(0.1) ? 1 : 0))
                : .token(randomHash(in: instance))
            var scope = Scope.allCases.randomElement(using: &random)!
            if case .token(let hash) = credential, let presenting = instance.token(hash: hash),
                random.chance(0.5)
            {
                // Often ask for the presenting scope or a narrower one, so chains grow.
                scope = [presenting.scope, .orderSimple, .orderPos].randomElement(using: &random)!
            }
            let durations: [TokenDuration] = [
                .default, .forever, .micros(0), .micros(UInt64(Fixture.hour)),
                .micros(UInt64.random(in: 0...UInt64(3 * Fixture.day), using: &random)),
            ]
            return .issueToken(
                IssueToken(
                    scope: scope, refreshable: random.chance(0.7),
                    duration: durations.randomElement(using: &random)!,
                    newTokenHash: Fixture.hash(nextHash),
                    authenticatedBy: credential))
        }
    }

    mutating func randomHash(in instance: InstanceState) -> TokenHash {
        guard !instance.tokens.isEmpty, random.chance(0.95) else { return Fixture.hash(1) }
        // Mostly recent tokens, which are likelier to be valid, so chains grow long.
        let pool = random.chance(0.8) ? instance.tokens.suffix(30) : instance.tokens[...]
        return pool.randomElement(using: &random)!.hash
    }

    /// The state folded from the events decided at or before `instant`.
    func folded(upTo instant: Int64) throws -> ServerState {
        var state = ServerState()
        for (at, event) in log where at <= instant { try state.apply(event) }
        return state
    }
}

extension DomainCommand {
    /// Creation commands for the other instance id, to exercise two streams.
    fileprivate func retargeted(_ other: Bool) -> DomainCommand {
        guard other, case .createInstance(var create) = self else { return self }
        create.id = Fixture.other
        create.auth = .external
        return .createInstance(create)
    }
}

@Suite("Properties over random histories")
struct PropertyTests {
    static let seeds: [UInt64] = [1, 2, 3, 0xDEAD_BEEF]

    @Test("no chain of refreshes yields a permission an ancestor lacked", arguments: seeds)
    func noEscalation(seed: UInt64) throws {
        var simulation = Simulation(seed: seed)
        try simulation.run(steps: 3000)
        var refreshed = 0
        for instance in simulation.state.instances.values {
            for token in instance.tokens {
                var current = token
                while case .token(let parentSerial) = current.origin {
                    let parent = try #require(instance.token(serial: parentSerial))
                    #expect(parent.serial < current.serial)
                    #expect(parent.permissions.contains(.tokenRefresh))
                    #expect(token.permissions.isSubset(of: parent.permissions), "seed \(seed)")
                    #expect(parent.status(at: current.createdAt) == .valid)
                    current = parent
                    refreshed += 1
                }
            }
        }
        #expect(refreshed > 50, "the run should refresh often (seed \(seed))")
        #expect(simulation.rejections[16, default: 0] > 0)
        #expect(simulation.rejections[2015, default: 0] > 0)
    }

    @Test("a token's status at T is the same live and replayed up to T", arguments: seeds)
    func statusAtT(seed: UInt64) throws {
        var simulation = Simulation(seed: seed)
        try simulation.run(steps: 1500)
        var random = SeededRandom(seed: seed ^ 0x5EED)
        var compared = 0
        for _ in 0..<25 {
            let instant = Int64.random(in: Fixture.t0...simulation.now, using: &random)
            let past = try simulation.folded(upTo: instant)
            for (id, then) in past.instances {
                guard let live = simulation.state[id], live.createdAt == then.createdAt else {
                    continue
                }
                for token in then.tokens {
                    let liveToken = try #require(live.token(serial: token.serial))
                    #expect(
                        liveToken.status(at: instant) == token.status(at: instant), "seed \(seed)")
                    compared += 1
                }
                for token in live.tokens.dropFirst(then.tokens.count) {
                    #expect(token.createdAt > instant)
                }
            }
        }
        #expect(compared > 100)
    }

    @Test("folding the same events twice gives the same digest", arguments: seeds)
    func digestIsDeterministic(seed: UInt64) throws {
        var simulation = Simulation(seed: seed)
        try simulation.run(steps: 1500)
        let events = simulation.log.map(\.event)
        var first = ServerState()
        var second = ServerState()
        var decoded = ServerState()
        for event in events {
            try first.apply(event)
            try second.apply(event)
            let (tag, payload) = EventCodec.encode(event.event)
            try decoded.apply(
                StoredEvent(
                    instance: event.instance, event: EventCodec.decode(tag: tag, payload: payload)))
        }
        #expect(first.digestBytes() == second.digestBytes())
        #expect(first.digestBytes() == decoded.digestBytes())
        #expect(first.digestBytes() == simulation.state.digestBytes())
        #expect(first == simulation.state)
    }
}
