/// `challenge-solved.v1`: confirmed with the right TAN. The address it went to counts as
/// validated from now on (while the instance keeps that address).
public struct ChallengeSolved: Hashable, Sendable {
    public var id: ChallengeID
    /// When (µs since the epoch).
    public var at: Int64

    public init(id: ChallengeID, at: Int64) {
        self.id = id
        self.at = at
    }
}
