/// What `decide` knows about the world besides the state: the current instant, the
/// operator's configuration, and the token events already decided for the instance but not
/// yet committed. The domain never reads a clock.
///
/// The engine applies events to the state only after they commit, but may decide several
/// token commands of one instance before the earlier ones commit (group commit). The two
/// pending fields make such a decision the one it would be had the earlier events committed:
/// keep them with ``addPending(_:)`` and drop what commits. When an append fails, every later
/// decision that counted its events is void too (its serials assumed them). They cover token
/// events only: decide instance commands (create, delete, credentials, details) on a state
/// with nothing pending.
public struct DecisionContext: Hashable, Sendable {
    /// The current instant (µs since the Unix epoch), read once by the engine per command.
    public var now: Int64
    /// The operator's maximum token lifetime (µs); caps every duration, `forever` included.
    public var maxTokenDuration: UInt64?
    /// How many serials uncommitted `token-issued` events of this instance already hold: a
    /// new token gets serial `state.nextSerial + reservedSerials`. The fold still takes
    /// serials only in order, so those events must commit in the order they were decided.
    public var reservedSerials: UInt64
    /// Serials whose revocation is decided but not committed. For `decide` they are revoked:
    /// refreshing with one, or revoking or deleting one, is refused as if the revocation had
    /// committed (see also ``InstanceState/authorize(_:requiring:at:pendingRevocations:)``).
    public var pendingRevocations: Set<TokenSerial>
    /// The operator's two-factor settings: lifetimes, retransmission interval, attempts,
    /// login blocking.
    public var challengePolicy: ChallengePolicy
    /// The operator's two-factor rule: which channels have a helper, whether challenges are
    /// mandatory, `combi_and`. Decides when a ``ProtectedCommand`` is challenged.
    public var twoFactor: TwoFactorGate
    /// Whether the operator allows `{"method":"external"}` (no checks at all; spec §10.2).
    /// When `false`, creating an instance with it or changing to it is refused.
    public var allowExternalAuth: Bool

    public init(
        now: Int64, maxTokenDuration: UInt64? = nil, reservedSerials: UInt64 = 0,
        pendingRevocations: Set<TokenSerial> = [], challengePolicy: ChallengePolicy = .default,
        twoFactor: TwoFactorGate = .off, allowExternalAuth: Bool = false
    ) {
        self.now = now
        self.maxTokenDuration = maxTokenDuration
        self.reservedSerials = reservedSerials
        self.pendingRevocations = pendingRevocations
        self.challengePolicy = challengePolicy
        self.twoFactor = twoFactor
        self.allowExternalAuth = allowExternalAuth
    }

    /// Counts `events`, just decided and not yet committed, into the pending fields: one
    /// reserved serial per `token-issued`, the serial of each `token-revoked`. Other events
    /// are ignored.
    public mutating func addPending(_ events: [DomainEvent]) {
        for event in events {
            switch event {
            case .tokenIssued: reservedSerials += 1
            case .tokenRevoked(let revoked): pendingRevocations.insert(revoked.serial)
            default: break
            }
        }
    }
}
