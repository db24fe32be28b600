/// An event that does not fit the state it is folded into: a bug or a damaged log, never
/// a business rule (those are `decide`'s).
///
/// The fold stops there; the engine should refuse to start (or the tool report the
/// position) rather than serve a state that differs from the log.
public struct FoldError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Problem: Hashable, Sendable {
        /// `instance-created` for an instance the state already has.
        case instanceAlreadyExists
        /// An event for an instance the state does not have.
        case instanceUnknown
        /// `token-issued` whose serial is not the instance's next one.
        case serialOutOfSequence(expected: TokenSerial, found: TokenSerial)
        /// `token-issued` with a hash the instance already has.
        case duplicateTokenHash(TokenSerial)
        /// `token-revoked` for a serial never issued.
        case tokenUnknown(TokenSerial)
        /// `token-revoked` for a token already revoked.
        case tokenAlreadyRevoked(TokenSerial)
        /// `instance-credentials-changed` whose generation is not the previous one plus 1.
        case generationOutOfSequence(expected: UInt64, found: UInt64)
        /// `challenge-created` with an id the instance already has.
        case challengeAlreadyExists(ChallengeID)
        /// A `challenge-*` event for an id never created.
        case challengeUnknown(ChallengeID)
        /// A `challenge-*` event that does not fit the challenge's status: attempt-failed
        /// without a TAN or with attempts it did not have, solved or consumed when not
        /// possible, transmitted or expired after the end of its life.
        case challengeStatusMismatch(ChallengeID)
        /// `instance-address-validated` for an address the instance does not have now.
        case addressMismatch(TANChannel)
    }

    public var instance: InstanceID
    public var tag: EventTag
    public var problem: Problem

    public init(instance: InstanceID, tag: EventTag, problem: Problem) {
        self.instance = instance
        self.tag = tag
        self.problem = problem
    }

    public var description: String {
        "cannot fold \(tag.rawValue) into instance \(instance): \(problem)"
    }
}
