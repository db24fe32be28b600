/// `challenge-code-transmitted.v1`: the helper sent a new TAN; it replaces any earlier one.
/// Holds a hash of the TAN, never the TAN.
public struct ChallengeCodeTransmitted: Hashable, Sendable {
    public var id: ChallengeID
    public var tanHash: TANHash
    /// When the helper reported it sent (µs).
    public var at: Int64
    /// From this instant on the TAN is no longer accepted.
    public var validUntil: Int64
    /// Confirmations allowed with this TAN.
    public var attempts: UInt8

    public init(id: ChallengeID, tanHash: TANHash, at: Int64, validUntil: Int64, attempts: UInt8) {
        self.id = id
        self.tanHash = tanHash
        self.at = at
        self.validUntil = validUntil
        self.attempts = attempts
    }
}
