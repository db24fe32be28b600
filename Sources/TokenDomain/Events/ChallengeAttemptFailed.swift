/// `challenge-attempt-failed.v1`: a confirmation with a wrong TAN.
public struct ChallengeAttemptFailed: Hashable, Sendable {
    public var id: ChallengeID
    /// When (µs since the epoch).
    public var at: Int64
    /// Confirmations left with the current TAN (the answer's `retry_counter`).
    public var attemptsLeft: UInt8

    public init(id: ChallengeID, at: Int64, attemptsLeft: UInt8) {
        self.id = id
        self.at = at
        self.attemptsLeft = attemptsLeft
    }
}
