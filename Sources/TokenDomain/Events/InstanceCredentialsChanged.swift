/// `instance-credentials-changed.v1`: the instance's auth was replaced.
///
/// Existing login tokens stay valid (spec §5 Decision). Any password check the engine did
/// against an older generation no longer counts.
public struct InstanceCredentialsChanged: Hashable, Sendable {
    /// When (µs since the epoch).
    public var at: Int64
    public var auth: InstanceAuth
    /// The generation after the change: always the previous one plus 1.
    public var generation: UInt64

    public init(at: Int64, auth: InstanceAuth, generation: UInt64) {
        self.at = at
        self.auth = auth
        self.generation = generation
    }
}
