/// `challenge-consumed.v1`: the repeated protected request used the solved challenge; it
/// cannot be used again.
public struct ChallengeConsumed: Hashable, Sendable {
    public var id: ChallengeID
    /// When (µs since the epoch).
    public var at: Int64
    /// The operation that used it (always the challenge's own).
    public var operation: ProtectedOperation

    public init(id: ChallengeID, at: Int64, operation: ProtectedOperation) {
        self.id = id
        self.at = at
        self.operation = operation
    }
}
