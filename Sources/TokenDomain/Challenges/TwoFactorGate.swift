/// The operator's two-factor rule (spec §6, §10.1), as `decide` applies it to an instance's
/// state: which channels have a helper, whether challenges are mandatory, and whether every
/// challenge of a `202` must be solved. Passed in the ``DecisionContext``.
public struct TwoFactorGate: Hashable, Sendable {
    /// Channels the operator has a helper for.
    public var channels: Set<TANChannel>
    /// Whether every instance with an address must pass a challenge, even when no helper
    /// serves its address (then the request fails with 403, code 2031).
    public var mandatory: Bool
    /// Whether every challenge at the instance's addresses must be solved (`combi_and`).
    public var requireAllChannels: Bool

    public init(
        channels: Set<TANChannel> = [], mandatory: Bool = false, requireAllChannels: Bool = false
    ) {
        self.channels = channels
        self.mandatory = mandatory
        self.requireAllChannels = requireAllChannels
    }

    /// No helper and not mandatory: nothing is ever challenged.
    public static let off = TwoFactorGate()

    /// Whether nothing is ever protected (no helper, not mandatory): protected commands are
    /// then decided as plain ones, and the engine may pipeline password mints.
    public var isOff: Bool { channels.isEmpty && !mandatory }

    /// Whether the instance's current addresses protect it: it has an address for a channel
    /// with a helper, or, when mandatory, any address.
    public func applies(to state: InstanceState) -> Bool {
        let present = TANChannel.allCases.filter { state.address(for: $0) != nil }
        if present.contains(where: channels.contains) { return true }
        return mandatory && !present.isEmpty
    }
}
