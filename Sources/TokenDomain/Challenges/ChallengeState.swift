/// One TAN challenge of an instance, folded from its `challenge-*` events.
///
/// Expiry is a pure function of an instant (``isExpired(at:)``); `challenge-expired`
/// records it, but a challenge past its solve expiry counts as expired without it.
public struct ChallengeState: Hashable, Sendable {
    public let id: ChallengeID
    public let operation: ProtectedOperation
    public let channel: TANChannel
    /// The e-mail address or phone number the TAN goes to, as the instance had it.
    public let address: String
    public let bodyHash: RequestBodyHash
    /// The id of the first challenge created with this one (its own id when first): the
    /// challenges of one `202` answer.
    public let group: ChallengeID
    /// Whether every challenge of the group must be solved (`combi_and`), else any one.
    public let combiAnd: Bool
    /// When it was created (µs).
    public let createdAt: Int64
    /// From this instant on it can be neither solved nor consumed (µs).
    public let solveExpiry: Int64
    /// The TAN last transmitted, if any.
    public internal(set) var code: TANCode?
    public internal(set) var status: ChallengeStatus

    public init(
        id: ChallengeID, operation: ProtectedOperation, channel: TANChannel, address: String,
        bodyHash: RequestBodyHash, group: ChallengeID, combiAnd: Bool, createdAt: Int64,
        solveExpiry: Int64, code: TANCode? = nil, status: ChallengeStatus = .pending
    ) {
        self.id = id
        self.operation = operation
        self.channel = channel
        self.address = address
        self.bodyHash = bodyHash
        self.group = group
        self.combiAnd = combiAnd
        self.createdAt = createdAt
        self.solveExpiry = solveExpiry
        self.code = code
        self.status = status
    }

    init(created: ChallengeCreated) {
        self.init(
            id: created.id, operation: created.operation, channel: created.channel,
            address: created.address, bodyHash: created.bodyHash, group: created.group,
            combiAnd: created.combiAnd, createdAt: created.at, solveExpiry: created.solveExpiry)
    }

    /// Whether it is expired at `now`: recorded so, or past its solve expiry while pending
    /// or solved. A consumed challenge stays consumed.
    public func isExpired(at now: Int64) -> Bool {
        switch status {
        case .expired: true
        case .consumed: false
        case .pending, .solved: now >= solveExpiry
        }
    }

    /// The first instant another TAN may be sent: the last transmission plus `interval`,
    /// or the creation when none was sent yet. For `earliest_retransmission`.
    public func earliestRetransmission(interval: Int64) -> Int64 {
        guard let code else { return createdAt }
        let (sum, overflow) = code.sentAt.addingReportingOverflow(interval)
        return overflow ? .max : sum
    }
}

/// A transmitted TAN, by its hash, with its validity window and the attempts left for it.
public struct TANCode: Hashable, Sendable {
    public var hash: TANHash
    /// When the helper reported it sent (µs); the last transmission time.
    public var sentAt: Int64
    /// From this instant on the TAN is no longer accepted (µs).
    public var validUntil: Int64
    /// Confirmations still allowed with this TAN; 0 = a new TAN must be requested.
    public var attemptsLeft: UInt8

    public init(hash: TANHash, sentAt: Int64, validUntil: Int64, attemptsLeft: UInt8) {
        self.hash = hash
        self.sentAt = sentAt
        self.validUntil = validUntil
        self.attemptsLeft = attemptsLeft
    }
}

/// Where a challenge is in its life: pending → solved → consumed, or → expired.
public enum ChallengeStatus: Hashable, Sendable {
    case pending
    /// Solved with the right TAN at the instant; may now be consumed once.
    case solved(at: Int64)
    /// Used by the repeated protected request at the instant.
    case consumed(at: Int64)
    /// Recorded as expired at the instant.
    case expired(at: Int64)
}
