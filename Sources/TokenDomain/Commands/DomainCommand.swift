/// A request to change one instance, decided by ``Decider/decide(_:instance:state:context:)``.
///
/// Commands carry only what the engine established before deciding: hashes, never secrets;
/// a password already checked (see ``Credential``); fresh random bytes already generated.
/// Permissions for commands other than ``IssueToken`` (e.g. `tokens-write` for
/// ``DeleteToken``) are checked by the engine with
/// ``InstanceState/authorize(_:requiring:at:pendingRevocations:)`` in the same serialised
/// turn, before `decide`, passing the context's pending revocations.
public enum DomainCommand: Hashable, Sendable {
    case createInstance(CreateInstance)
    case changeCredentials(ChangeCredentials)
    case updateInstanceDetails(UpdateInstanceDetails)
    case deleteInstance(DeleteInstance)
    case issueToken(IssueToken)
    case revokeToken(RevokeToken)
    case deleteToken(DeleteToken)
    case createChallenges(CreateChallenges)
    case recordTransmission(RecordTransmission)
    case confirmChallenge(ConfirmChallenge)
    case consumeChallenges(ConsumeChallenges)
    case expireChallenges(ExpireChallenges)
    case unblockLogins(UnblockLogins)
    case setBackendCredential(SetBackendCredential)
    case removeBackendCredential(RemoveBackendCredential)
    /// A command behind the two-factor gate; see ``ProtectedCommand``.
    indirect case protected(ProtectedCommand)
}
