/// Solve a challenge with a TAN (`POST .../challenge/$ID/confirm`).
///
/// The engine hashes the TAN the client sent exactly as it hashed the transmitted one; the
/// domain compares the two hashes in constant time. A wrong TAN is a fact to record and a
/// refusal at once: decide it with ``Decider/decision(_:instance:state:context:)``, which
/// returns the `challenge-attempt-failed` event to append together with the 409 answer.
public struct ConfirmChallenge: Hashable, Sendable {
    public var id: ChallengeID
    /// The engine's keyed hash of the TAN the client sent.
    public var tanHash: TANHash

    public init(id: ChallengeID, tanHash: TANHash) {
        self.id = id
        self.tanHash = tanHash
    }
}
