/// Answer a protected request with challenges instead of performing it (the `202`
/// `ChallengeResponse`, spec §6): one challenge per usable channel.
///
/// `decide` makes a challenge for each channel of ``newIDs`` for which there is an address,
/// in channel order: the instance's own (`email` for e-mail, `phone_number` for SMS), or,
/// when ``addresses`` is not empty, those (new addresses to prove, spec §10.1). The first
/// challenge's id names the group. Decided as part of a ``ProtectedCommand``, which passes
/// ids only for the channels the operator has a helper for.
public struct CreateChallenges: Hashable, Sendable {
    public var operation: ProtectedOperation
    /// SHA-256 of the request body; the repeated request must have the same.
    public var bodyHash: RequestBodyHash
    /// A fresh random id for each channel the operator has a helper for.
    public var newIDs: [TANChannel: ChallengeID]
    /// Whether every challenge must be solved (`combi_and`), else any one (engine config).
    public var combiAnd: Bool
    /// The addresses the challenges go to, by channel; empty: the instance's own.
    public var addresses: [TANChannel: String]

    public init(
        operation: ProtectedOperation, bodyHash: RequestBodyHash,
        newIDs: [TANChannel: ChallengeID], combiAnd: Bool, addresses: [TANChannel: String] = [:]
    ) {
        self.operation = operation
        self.bodyHash = bodyHash
        self.newIDs = newIDs
        self.combiAnd = combiAnd
        self.addresses = addresses
    }
}
