/// `challenge-created.v1`: a protected request was answered with a challenge (one event per
/// challenge of the `202` answer), bound to its operation and request body.
public struct ChallengeCreated: Hashable, Sendable {
    public var id: ChallengeID
    public var operation: ProtectedOperation
    public var channel: TANChannel
    /// The e-mail address or phone number the TAN goes to.
    public var address: String
    public var bodyHash: RequestBodyHash
    /// The id of the group's first challenge (its own id when first).
    public var group: ChallengeID
    /// Whether every challenge of the group must be solved.
    public var combiAnd: Bool
    /// When (µs since the epoch).
    public var at: Int64
    /// From this instant on it can be neither solved nor consumed.
    public var solveExpiry: Int64

    public init(
        id: ChallengeID, operation: ProtectedOperation, channel: TANChannel, address: String,
        bodyHash: RequestBodyHash, group: ChallengeID, combiAnd: Bool, at: Int64,
        solveExpiry: Int64
    ) {
        self.id = id
        self.operation = operation
        self.channel = channel
        self.address = address
        self.bodyHash = bodyHash
        self.group = group
        self.combiAnd = combiAnd
        self.at = at
        self.solveExpiry = solveExpiry
    }
}
