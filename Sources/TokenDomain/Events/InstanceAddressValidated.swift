/// `instance-address-validated.v1`: the instance's current address for ``channel`` is
/// validated (`email_validated` or `phone_validated` becomes `true`).
///
/// Either a solved challenge sent to that address was consumed by the request that set it
/// (``challenge`` names it; spec §10.1), or the operator set the address when creating the
/// instance through `/management/instances` (``challenge`` is `nil`: the operator vouches).
/// It follows the event that set the address, in the same append.
public struct InstanceAddressValidated: Hashable, Sendable {
    /// When (µs since the epoch).
    public var at: Int64
    public var channel: TANChannel
    /// The address validated, as the instance has it.
    public var address: String
    /// The consumed challenge that proved the address; `nil` when the operator vouched.
    public var challenge: ChallengeID?

    public init(at: Int64, channel: TANChannel, address: String, challenge: ChallengeID?) {
        self.at = at
        self.channel = channel
        self.address = address
        self.challenge = challenge
    }
}
