/// An append a store's writer has taken into its queue, its shape checked by the caller that
/// queued it, with the handle that caller awaits. A class, so that passing one around the
/// writer costs one reference count. The LMDB and PostgreSQL writers both queue these.
public final class QueuedAppend: Sendable {
    public let stream: String
    public let expecting: ExpectedVersion
    public let events: [ProposedEvent]
    public let pending: PendingAppend

    public init(
        stream: String, expecting: ExpectedVersion, events: [ProposedEvent],
        pending: PendingAppend
    ) {
        self.stream = stream
        self.expecting = expecting
        self.events = events
        self.pending = pending
    }
}
