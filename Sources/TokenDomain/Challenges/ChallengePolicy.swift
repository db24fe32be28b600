/// The operator's two-factor settings that `decide` needs, passed in the
/// ``DecisionContext``. Durations are microseconds.
public struct ChallengePolicy: Hashable, Sendable {
    /// How long after creation a challenge may be solved and consumed.
    public var solveLifetime: Int64
    /// How long a transmitted TAN may be entered (capped by the solve expiry).
    public var codeLifetime: Int64
    /// The least time between two transmissions of one challenge (else 429, code 2130).
    public var retransmissionInterval: Int64
    /// Confirmations allowed per transmitted TAN (spec §6: 3).
    public var attemptsPerCode: UInt8
    /// Failed confirmations of token-issue challenges in a row (since the last block or
    /// solved token-issue challenge) that block the instance's password logins.
    public var loginBlockThreshold: UInt32
    /// How long such a block lasts.
    public var loginBlockDuration: Int64

    public init(
        solveLifetime: Int64 = 3_600_000_000, codeLifetime: Int64 = 900_000_000,
        retransmissionInterval: Int64 = 60_000_000, attemptsPerCode: UInt8 = 3,
        loginBlockThreshold: UInt32 = 10, loginBlockDuration: Int64 = 3_600_000_000
    ) {
        self.solveLifetime = solveLifetime
        self.codeLifetime = codeLifetime
        self.retransmissionInterval = retransmissionInterval
        self.attemptsPerCode = attemptsPerCode
        self.loginBlockThreshold = loginBlockThreshold
        self.loginBlockDuration = loginBlockDuration
    }

    /// One hour to solve, 15 minutes per TAN, one transmission a minute, 3 attempts per TAN,
    /// a one-hour block after 10 failed token-issue confirmations in a row.
    public static let `default` = ChallengePolicy()
}
