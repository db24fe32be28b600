import TokenDomain

/// The operator's two-factor settings (spec §6): who sends TANs, when challenges apply, and
/// how codes are made.
public struct TwoFactorConfiguration: Sendable {
    /// Sends TANs; its ``TANSender/channels`` are the channels with a helper. `nil`: none.
    public var sender: (any TANSender)?
    /// Whether every instance with an address must pass a challenge for protected operations,
    /// even when no helper serves its address (the request then fails with 403, code 2031).
    public var mandatory = false
    /// Whether every challenge of a `202` must be solved (`combi_and: true`), else any one.
    public var requireAllChannels = false
    /// Lifetimes, retransmission interval, attempts per code, login blocking.
    public var policy = ChallengePolicy.default
    /// Digits per TAN.
    public var codeDigits = 8
    /// The key of the HMAC that turns a TAN into the hash the log keeps. It must survive a
    /// restart for codes sent before it to verify; the server keeps it in its data directory.
    /// The default is fresh random bytes per process.
    public var codeKey: [UInt8] = TANCodes.randomKey()

    public init() {}

    /// The channels with a helper.
    public var channels: Set<TANChannel> { sender?.channels ?? [] }

    /// The rule `decide` applies (``DecisionContext/twoFactor``).
    public var gate: TwoFactorGate {
        TwoFactorGate(
            channels: channels, mandatory: mandatory, requireAllChannels: requireAllChannels)
    }
}

/// Delivers a message with a TAN to an address: the operator's helper programs in the server,
/// a recorder in tests.
public protocol TANSender: Sendable {
    /// The channels this sender can deliver on.
    var channels: Set<TANChannel> { get }

    /// Delivers `message` to `address` over `channel`; returns once it was handed on.
    /// - Throws: when the delivery failed (the client gets 502, code 2128). The error's
    ///   description must not contain the message.
    func send(_ message: String, over channel: TANChannel, to address: String) async throws
}
