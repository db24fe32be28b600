/// `instance-purged.v1`: the instance and its tokens are gone from the state; the id may be
/// created again (a new instance whose serials restart at 1).
public struct InstancePurged: Hashable, Sendable {
    /// When (µs since the epoch).
    public var at: Int64

    public init(at: Int64) {
        self.at = at
    }
}
