/// Whether an instance is in service.
///
/// Active → deleted → (purged: the instance leaves the state; its id may then be created
/// anew). A deleted instance answers every command but purge with code 2016, and its tokens
/// stop working at once.
public enum InstanceLifecycle: Hashable, Sendable {
    case active
    /// Deleted at the instant (µs), not yet purged.
    case deleted(at: Int64)
}
