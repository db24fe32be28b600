@testable import TokenDomain

/// Random values for codec and digest properties.
extension SeededRandom {
    mutating func string(maxLength: Int = 40) -> String? {
        guard chance(0.8) else { return nil }
        let pool: [String] = [
            "a", "Z", "9", " ", "-", "é", "€", "😀", "\u{0}", "\"", "{", "\u{10FFFF}",
        ]
        let count = Int.random(in: 0...maxLength, using: &self)
        return (0..<count).map { _ in pool.randomElement(using: &self)! }.joined()
    }

    mutating func time() -> Int64 {
        chance(0.1)
            ? Int64.random(in: .min ... .max, using: &self)
            : Fixture.t0 + Int64.random(in: 0...(1000 * Fixture.day), using: &self)
    }

    mutating func auth() -> InstanceAuth {
        guard chance(0.8) else { return .external }
        return .password(
            PasswordHash(
                algorithm: string(maxLength: 8) ?? "scrypt",
                log2N: UInt8.random(in: 0...255, using: &self),
                r: UInt32.random(in: 0...UInt32.max, using: &self),
                p: UInt32.random(in: 0...UInt32.max, using: &self),
                salt: bytes(Int.random(in: 0...32, using: &self)),
                derived: bytes(Int.random(in: 0...64, using: &self))))
    }

    mutating func tokenHash() -> TokenHash {
        TokenHash(bytes: bytes(32))!
    }

    mutating func serial() -> TokenSerial {
        TokenSerial(chance(0.1) ? UInt64.max : UInt64.random(in: 1...1_000_000, using: &self))
    }

    mutating func event() -> DomainEvent {
        if chance(0.4) { return challengeEvent() }
        return switch Int.random(in: 0..<7, using: &self) {
        case 0:
            .instanceCreated(
                InstanceCreated(
                    at: time(), name: string() ?? "", auth: auth(), email: string(),
                    phoneNumber: string(),
                    details: bytes(Int.random(in: 0...100, using: &self))))
        case 1:
            .instanceCredentialsChanged(
                InstanceCredentialsChanged(at: time(), auth: auth(), generation: next()))
        case 2:
            .instanceDetailsUpdated(
                InstanceDetailsUpdated(
                    at: time(), name: string() ?? "", email: string(), phoneNumber: string(),
                    details: bytes(Int.random(in: 0...100, using: &self))))
        case 3: .instanceDeleted(InstanceDeleted(at: time()))
        case 4: .instancePurged(InstancePurged(at: time()))
        case 5:
            .tokenIssued(
                TokenIssued(
                    serial: serial(), hash: tokenHash(),
                    scope: Scope.allCases.randomElement(using: &self)!,
                    refreshable: chance(0.5), issuedAt: time(),
                    expiry: chance(0.2)
                        ? .never : .at(Int64.random(in: .min ..< .max, using: &self)),
                    description: string(),
                    origin: chance(0.5) ? .token(parent: serial()) : .password(basic: chance(0.5))))
        default:
            .tokenRevoked(
                TokenRevoked(
                    serial: serial(), at: time(),
                    reason: RevocationReason.allCases.randomElement(using: &self)!))
        }
    }
}

/// Random two-factor values and events.
extension SeededRandom {
    mutating func challengeID() -> ChallengeID {
        chance(0.1)
            ? ChallengeID(String(repeating: "Z", count: ChallengeID.maximumLength))!
            : ChallengeID(randomBytes: bytes(Int.random(in: 1...16, using: &self)))!
    }

    mutating func tanHash() -> TANHash {
        TANHash(bytes: bytes(32))!
    }

    mutating func bodyHash() -> RequestBodyHash {
        RequestBodyHash(bytes: bytes(32))!
    }

    mutating func challengeEvent() -> DomainEvent {
        switch Int.random(in: 0..<8, using: &self) {
        case 0:
            .challengeCreated(
                ChallengeCreated(
                    id: challengeID(),
                    operation: ProtectedOperation.allCases.randomElement(using: &self)!,
                    channel: TANChannel.allCases.randomElement(using: &self)!,
                    address: string() ?? "", bodyHash: bodyHash(), group: challengeID(),
                    combiAnd: chance(0.5), at: time(), solveExpiry: time()))
        case 1:
            .challengeCodeTransmitted(
                ChallengeCodeTransmitted(
                    id: challengeID(), tanHash: tanHash(), at: time(), validUntil: time(),
                    attempts: UInt8.random(in: 0...255, using: &self)))
        case 2:
            .challengeAttemptFailed(
                ChallengeAttemptFailed(
                    id: challengeID(), at: time(),
                    attemptsLeft: UInt8.random(in: 0...255, using: &self)))
        case 3: .challengeSolved(ChallengeSolved(id: challengeID(), at: time()))
        case 4:
            .challengeConsumed(
                ChallengeConsumed(
                    id: challengeID(), at: time(),
                    operation: ProtectedOperation.allCases.randomElement(using: &self)!))
        case 5: .challengeExpired(ChallengeExpired(id: challengeID(), at: time()))
        case 6: .instanceLoginsBlocked(InstanceLoginsBlocked(at: time(), until: time()))
        default: .instanceLoginsUnblocked(InstanceLoginsUnblocked(at: time()))
        }
    }
}
