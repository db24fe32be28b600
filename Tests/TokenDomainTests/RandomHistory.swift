@testable import TokenDomain

/// Random histories that always fold: the random values of `RandomEvents` (extreme times,
/// any auth parameters, Unicode strings) in events that fit the state they are folded into.
extension SeededRandom {
    static let instancePool = ["shop1", "other-shop", "a1", "Z9_x.y", "admin", "m@x-y", "00"]
        .map { InstanceID($0)! }

    /// `count` attempted events over up to `instances` instances, and the state they fold to.
    mutating func history(events count: Int, instances: Int = 3) -> (
        events: [StoredEvent], state: ServerState
    ) {
        var state = ServerState()
        var events: [StoredEvent] = []
        let pool = Self.instancePool.prefix(instances)
        for _ in 0..<count {
            let id = pool.randomElement(using: &self)!
            let stored = StoredEvent(instance: id, event: nextEvent(for: state[id]))
            do {
                try state.apply(stored)
                events.append(stored)
            } catch {
                // A revocation of a revoked token or an event for a purged instance: skip.
            }
        }
        return (events, state)
    }

    private mutating func nextEvent(for instance: InstanceState?) -> DomainEvent {
        guard let instance else {
            return .instanceCreated(
                InstanceCreated(
                    at: time(), name: string() ?? "", auth: auth(), email: string(),
                    phoneNumber: string(), details: bytes(Int.random(in: 0...40, using: &self))))
        }
        let tokens = UInt64(instance.tokens.count)
        switch Int.random(in: 0..<100, using: &self) {
        case 0..<60:
            return .tokenIssued(
                TokenIssued(
                    serial: instance.nextSerial, hash: tokenHash(),
                    scope: Scope.allCases.randomElement(using: &self)!,
                    refreshable: chance(0.5), issuedAt: time(),
                    expiry: chance(0.2)
                        ? .never : .at(Int64.random(in: .min ..< .max, using: &self)),
                    description: chance(0.5) ? string() : nil,
                    origin: chance(0.5) && tokens > 0
                        ? .token(parent: TokenSerial(.random(in: 1...tokens, using: &self)))
                        : .password(basic: chance(0.5))))
        case 60..<85 where tokens > 0:
            return .tokenRevoked(
                TokenRevoked(
                    serial: TokenSerial(.random(in: 1...tokens, using: &self)), at: time(),
                    reason: RevocationReason.allCases.randomElement(using: &self)!))
        case 85..<90:
            return .instanceCredentialsChanged(
                InstanceCredentialsChanged(
                    at: time(), auth: auth(), generation: instance.credentialGeneration + 1))
        case 90..<96:
            return .instanceDetailsUpdated(
                InstanceDetailsUpdated(
                    at: time(), name: string() ?? "", email: string(), phoneNumber: string(),
                    details: bytes(Int.random(in: 0...40, using: &self))))
        case 96..<99:
            return .instanceDeleted(InstanceDeleted(at: time()))
        default:
            return .instancePurged(InstancePurged(at: time()))
        }
    }
}
