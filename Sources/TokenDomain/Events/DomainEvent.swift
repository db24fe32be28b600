/// Something that happened to one instance: a fact in the instance's stream.
///
/// The stream's id is the instance id, so no payload repeats it (see ``StoredEvent``).
/// Events are produced only by ``Decider/decide(_:instance:state:context:)`` and folded by
/// ``Decider/evolve(_:instance:with:)``; stored with ``EventCodec``.
public enum DomainEvent: Hashable, Sendable {
    case instanceCreated(InstanceCreated)
    case instanceCredentialsChanged(InstanceCredentialsChanged)
    case instanceDetailsUpdated(InstanceDetailsUpdated)
    case instanceDeleted(InstanceDeleted)
    case instancePurged(InstancePurged)
    case tokenIssued(TokenIssued)
    case tokenRevoked(TokenRevoked)
    case challengeCreated(ChallengeCreated)
    case challengeCodeTransmitted(ChallengeCodeTransmitted)
    case challengeAttemptFailed(ChallengeAttemptFailed)
    case challengeSolved(ChallengeSolved)
    case challengeConsumed(ChallengeConsumed)
    case challengeExpired(ChallengeExpired)
    case instanceLoginsBlocked(InstanceLoginsBlocked)
    case instanceLoginsUnblocked(InstanceLoginsUnblocked)
    case instanceAddressValidated(InstanceAddressValidated)
    case backendCredentialSet(BackendCredentialSet)
    case backendCredentialRemoved(BackendCredentialRemoved)
    case merchantInstanceChanged(MerchantInstanceChanged)

    /// The stored type tag.
    public var tag: EventTag {
        switch self {
        case .instanceCreated: .instanceCreated
        case .instanceCredentialsChanged: .instanceCredentialsChanged
        case .instanceDetailsUpdated: .instanceDetailsUpdated
        case .instanceDeleted: .instanceDeleted
        case .instancePurged: .instancePurged
        case .tokenIssued: .tokenIssued
        case .tokenRevoked: .tokenRevoked
        case .challengeCreated: .challengeCreated
        case .challengeCodeTransmitted: .challengeCodeTransmitted
        case .challengeAttemptFailed: .challengeAttemptFailed
        case .challengeSolved: .challengeSolved
        case .challengeConsumed: .challengeConsumed
        case .challengeExpired: .challengeExpired
        case .instanceLoginsBlocked: .instanceLoginsBlocked
        case .instanceLoginsUnblocked: .instanceLoginsUnblocked
        case .instanceAddressValidated: .instanceAddressValidated
        case .backendCredentialSet: .backendCredentialSet
        case .backendCredentialRemoved: .backendCredentialRemoved
        case .merchantInstanceChanged: .merchantInstanceChanged
        }
    }
}
