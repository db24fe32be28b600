/// Answer a protected request with challenges instead of performing it (the `202`
/// `ChallengeResponse`, spec §6): one challenge per usable channel.
///
/// The engine decides that two-factor authentication applies (operator option, instance
/// addresses) and which channels have a helper; `decide` makes a challenge for each of
/// those channels for which the instance has an address (`email` for e-mail,
/// `phone_number` for SMS), in channel order, taking its id from ``newIDs``. The first
/// challenge's id names the group.
public struct CreateChallenges: Hashable, Sendable {
    public var operation: ProtectedOperation
    /// SHA-256 of the request body; the repeated request must have the same.
    public var bodyHash: RequestBodyHash
    /// A fresh random id for each channel the operator has a helper for.
    public var newIDs: [TANChannel: ChallengeID]
    /// Whether every challenge must be solved (`combi_and`), else any one (engine config).
    public var combiAnd: Bool

    public init(
        operation: ProtectedOperation, bodyHash: RequestBodyHash,
        newIDs: [TANChannel: ChallengeID], combiAnd: Bool
    ) {
        self.operation = operation
        self.bodyHash = bodyHash
        self.newIDs = newIDs
        self.combiAnd = combiAnd
    }
}
