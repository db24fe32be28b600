/// What `decide` knows about the world besides the state: the current instant and the
/// operator's configuration. The domain never reads a clock.
public struct DecisionContext: Hashable, Sendable {
    /// The current instant (µs since the Unix epoch), read once by the engine per command.
    public var now: Int64
    /// The operator's maximum token lifetime (µs); caps every duration, `forever` included.
    public var maxTokenDuration: UInt64?

    public init(now: Int64, maxTokenDuration: UInt64? = nil) {
        self.now = now
        self.maxTokenDuration = maxTokenDuration
    }
}
