/// `instance-deleted.v1`: the instance is out of service (not purged); its tokens stop
/// working at once.
public struct InstanceDeleted: Hashable, Sendable {
    /// When (µs since the epoch).
    public var at: Int64

    public init(at: Int64) {
        self.at = at
    }
}
