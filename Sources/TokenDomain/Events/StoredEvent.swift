/// An event together with the instance whose stream holds it: what the server-wide fold
/// (``ServerState/apply(_:)``) consumes.
public struct StoredEvent: Hashable, Sendable {
    public var instance: InstanceID
    public var event: DomainEvent

    public init(instance: InstanceID, event: DomainEvent) {
        self.instance = instance
        self.event = event
    }
}
