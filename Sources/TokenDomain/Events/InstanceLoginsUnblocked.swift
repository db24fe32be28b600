/// `instance-logins-unblocked.v1`: records that a login block ended (its time passed). The
/// block ends by time alone; this event only makes the end visible in the log.
public struct InstanceLoginsUnblocked: Hashable, Sendable {
    /// When (µs since the epoch).
    public var at: Int64

    public init(at: Int64) {
        self.at = at
    }
}
