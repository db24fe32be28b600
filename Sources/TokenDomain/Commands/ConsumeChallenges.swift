/// Use solved challenges for the repeated protected request (header
/// `Taler-Challenge-Ids: id1,id2`).
///
/// Every id must name a challenge of this instance, of ``operation``, with the same body
/// hash, solved, not consumed, not expired, all of one group; when the group was created
/// with `combi_and`, every challenge of the group must be given. On success the events
/// mark them consumed: the engine then decides the operation itself on the state with
/// these events folded (a copy) and appends both in one append, so the challenges are used
/// exactly when the operation happens.
public struct ConsumeChallenges: Hashable, Sendable {
    /// The ids from the header, in any order; repeats count once.
    public var ids: [ChallengeID]
    public var operation: ProtectedOperation
    /// SHA-256 of the repeated request's body.
    public var bodyHash: RequestBodyHash

    public init(ids: [ChallengeID], operation: ProtectedOperation, bodyHash: RequestBodyHash) {
        self.ids = ids
        self.operation = operation
        self.bodyHash = bodyHash
    }
}
