/// Record that a new TAN for a challenge was sent (`POST .../challenge/$ID`).
///
/// The engine decides this command first (to learn whether a TAN may be sent now: 404,
/// 410 or 429 otherwise), then runs the helper, and appends the event only when the helper
/// reported success (exit 0); a failed helper appends nothing (502, code 2128). Decide it
/// again after the helper if other commands of the instance ran meanwhile.
public struct RecordTransmission: Hashable, Sendable {
    public var id: ChallengeID
    /// The engine's keyed hash of the new TAN (see ``TANHash``).
    public var tanHash: TANHash

    public init(id: ChallengeID, tanHash: TANHash) {
        self.id = id
        self.tanHash = tanHash
    }
}
