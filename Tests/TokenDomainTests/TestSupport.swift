import Testing

@testable import TokenDomain

/// SplitMix64: a small, seeded, reproducible generator for property tests (no dependency,
/// no wall clock). A failing property prints its seed.
struct SeededRandom: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func bytes(_ count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8.random(in: 0...255, using: &self) }
    }

    mutating func chance(_ probability: Double) -> Bool {
        Double.random(in: 0..<1, using: &self) < probability
    }
}

/// Shared values for the given/when/then tables.
enum Fixture {
    static let shop = InstanceID("shop1")!
    static let other = InstanceID("other-shop")!
    /// 2023-11-14T22:13:20Z in µs.
    static let t0: Int64 = 1_700_000_000_000_000
    static let second: Int64 = 1_000_000
    static let hour: Int64 = 3_600_000_000
    static let day: Int64 = 86_400_000_000

    static let password = PasswordHash(
        algorithm: "scrypt", log2N: 15, r: 8, p: 1, salt: Array(1...16), derived: Array(100...131))
    static let otherPassword = PasswordHash(
        algorithm: "scrypt", log2N: 15, r: 8, p: 1, salt: Array(21...36), derived: Array(200...231))

    /// A distinct, reproducible hash for each `n`.
    static func hash(_ n: UInt64) -> TokenHash {
        var random = SeededRandom(seed: n &* 7919 &+ 1)
        return TokenHash(bytes: random.bytes(32))!
    }

    static let basicLogin = Credential.password(basic: true, credentialGeneration: 1)

    static func created(
        at: Int64 = t0, name: String = "Shop One", auth: InstanceAuth = .password(password),
        email: String? = nil, phone: String? = nil, details: [UInt8] = Array(#"{"a":1}"#.utf8)
    ) -> DomainEvent {
        .instanceCreated(
            InstanceCreated(
                at: at, name: name, auth: auth, email: email, phoneNumber: phone, details: details))
    }

    static func issued(
        _ serial: UInt64, _ scope: TokenScope, at: Int64 = t0, expiry: TokenExpiry? = nil,
        origin: TokenOrigin = .password(basic: true), description: String? = nil
    ) -> DomainEvent {
        .tokenIssued(
            TokenIssued(
                serial: TokenSerial(serial), hash: hash(serial), scope: scope.scope,
                refreshable: scope.refreshable, issuedAt: at, expiry: expiry ?? .at(at + day),
                description: description, origin: origin))
    }

    static func revoked(_ serial: UInt64, at: Int64, reason: RevocationReason = .selfRevoked)
        -> DomainEvent
    {
        .tokenRevoked(TokenRevoked(serial: TokenSerial(serial), at: at, reason: reason))
    }

    static func scope(_ wire: String) -> TokenScope {
        TokenScope(wire: wire)!
    }
}

/// Folds `events` of one instance.
func fold(_ events: [DomainEvent], instance: InstanceID = Fixture.shop) throws -> InstanceState? {
    var state: InstanceState?
    for event in events {
        try Decider.evolve(&state, instance: instance, with: event)
    }
    return state
}

/// Given `events`, when `command` at `now`: the events or the rejection.
func decide(
    given events: [DomainEvent], when command: DomainCommand, now: Int64 = Fixture.t0,
    cap: UInt64? = nil, instance: InstanceID = Fixture.shop, allowExternalAuth: Bool = false
) throws -> Result<[DomainEvent], Rejection> {
    let state = try fold(events, instance: instance)
    let context = DecisionContext(
        now: now, maxTokenDuration: cap, allowExternalAuth: allowExternalAuth)
    return Result { () throws(Rejection) in
        try Decider.decide(command, instance: instance, state: state, context: context)
    }
}

/// A sink that keeps every byte and the size of every chunk.
struct CollectingSink: DigestSink {
    var bytes: [UInt8] = []
    var chunkSizes: [Int] = []

    mutating func update(_ chunk: UnsafeRawBufferPointer) {
        bytes.append(contentsOf: chunk)
        chunkSizes.append(chunk.count)
    }
}

extension ServerState {
    func digestBytes() -> [UInt8] {
        var sink = CollectingSink()
        digest(into: &sink)
        return sink.bytes
    }
}

extension Result where Success == [DomainEvent], Failure == Rejection {
    /// The rejection, if any.
    var rejection: Rejection? {
        if case .failure(let rejection) = self { return rejection }
        return nil
    }

    /// The events, or [] after a rejection.
    var events: [DomainEvent] {
        (try? get()) ?? []
    }
}
