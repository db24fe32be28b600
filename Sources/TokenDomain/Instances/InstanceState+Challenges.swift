extension InstanceState {
    /// Whether password logins (``IssueToken`` with password credentials) are blocked at
    /// `now`: a pure function of the recorded block and the instant.
    public func loginsBlocked(at now: Int64) -> Bool {
        guard let until = loginsBlockedUntil else { return false }
        return now < until
    }

    /// The address a TAN for `channel` goes to (`phone_number` for SMS, `email` for e-mail),
    /// `nil` when the instance has none or an empty one.
    public func address(for channel: TANChannel) -> String? {
        let address = channel == .email ? email : phoneNumber
        guard let address, !address.isEmpty else { return nil }
        return address
    }

    /// Whether the instance has any two-factor data: a challenge, a failure count or a
    /// recorded login block.
    var hasChallengeState: Bool {
        !challenges.isEmpty || challengeFailures != 0 || loginsBlockedUntil != nil
    }

    /// The challenge with this id, whatever its status.
    public func challenge(_ id: ChallengeID) -> ChallengeState? {
        challenges[id]
    }

    /// The challenges created together with `group` (its group's first id), in id order.
    public func challenges(inGroup group: ChallengeID) -> [ChallengeState] {
        challenges.values.filter { $0.group == group }.sorted { $0.id < $1.id }
    }

    /// Folds a `challenge-*` or `instance-logins-*` event. Enforces only the shape of the
    /// state (ids exist once, statuses move forward); the rules are `decide`'s.
    mutating func applyChallengeEvent(_ event: DomainEvent) throws(FoldError) {
        func problem(_ problem: FoldError.Problem) -> FoldError {
            FoldError(instance: id, tag: event.tag, problem: problem)
        }
        func existing(_ challengeID: ChallengeID) throws(FoldError) -> ChallengeState {
            guard let challenge = challenges[challengeID] else {
                throw problem(.challengeUnknown(challengeID))
            }
            return challenge
        }
        switch event {
        case .challengeCreated(let created):
            guard challenges[created.id] == nil else {
                throw problem(.challengeAlreadyExists(created.id))
            }
            challenges[created.id] = ChallengeState(created: created)
        case .challengeCodeTransmitted(let transmitted):
            var challenge = try existing(transmitted.id)
            guard challenge.status == .pending else {
                throw problem(.challengeStatusMismatch(transmitted.id))
            }
            challenge.code = TANCode(
                hash: transmitted.tanHash, sentAt: transmitted.at,
                validUntil: transmitted.validUntil, attemptsLeft: transmitted.attempts)
            challenges[transmitted.id] = challenge
        case .challengeAttemptFailed(let failed):
            var challenge = try existing(failed.id)
            guard challenge.status == .pending, var code = challenge.code,
                failed.attemptsLeft < code.attemptsLeft
            else { throw problem(.challengeStatusMismatch(failed.id)) }
            code.attemptsLeft = failed.attemptsLeft
            challenge.code = code
            challenges[failed.id] = challenge
            challengeFailures &+= 1
        case .challengeSolved(let solved):
            var challenge = try existing(solved.id)
            guard challenge.status == .pending else {
                throw problem(.challengeStatusMismatch(solved.id))
            }
            challenge.status = .solved(at: solved.at)
            challenges[solved.id] = challenge
            challengeFailures = 0
            switch challenge.channel {
            case .email where challenge.address == email: emailValidated = true
            case .sms where challenge.address == phoneNumber: phoneValidated = true
            default: break
            }
        case .challengeConsumed(let consumed):
            var challenge = try existing(consumed.id)
            guard case .solved = challenge.status, consumed.operation == challenge.operation
            else { throw problem(.challengeStatusMismatch(consumed.id)) }
            challenge.status = .consumed(at: consumed.at)
            challenges[consumed.id] = challenge
        case .challengeExpired(let expired):
            var challenge = try existing(expired.id)
            switch challenge.status {
            case .pending, .solved: break
            case .consumed, .expired: throw problem(.challengeStatusMismatch(expired.id))
            }
            challenge.status = .expired(at: expired.at)
            challenges[expired.id] = challenge
        case .instanceLoginsBlocked(let blocked):
            loginsBlockedUntil = blocked.until
            challengeFailures = 0
        case .instanceLoginsUnblocked:
            loginsBlockedUntil = nil
        default:
            preconditionFailure("not a challenge event: \(event.tag.rawValue)")
        }
    }
}
