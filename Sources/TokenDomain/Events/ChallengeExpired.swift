/// `challenge-expired.v1`: a pending or solved challenge passed its solve expiry unused.
public struct ChallengeExpired: Hashable, Sendable {
    public var id: ChallengeID
    /// When it was recorded (µs since the epoch), at or after the solve expiry.
    public var at: Int64

    public init(id: ChallengeID, at: Int64) {
        self.id = id
        self.at = at
    }
}
