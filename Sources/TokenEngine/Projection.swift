import EventLog
import Synchronization
import TokenDomain

/// The committed state every request reads: folded from the log at start, then changed only
/// by the instance actors as their events commit.
///
/// Readers (token checks, listings) take the lock for a hash lookup or a copy of what they
/// list: they never wait behind a flush or a password hash, only behind another short
/// critical section. The lock is never held across an `await`.
final class Projection: Sendable {
    struct Contents {
        var state: ServerState
        /// Committed stream version per instance stream (purged instances keep theirs).
        var versions: [InstanceID: UInt64]
        /// Every record up to this sequence is folded in.
        var appliedThrough: UInt64
        /// Sequences folded in out of order (another instance's earlier record was not yet).
        var appliedAhead: Set<UInt64> = []
        /// Events folded since the last checkpoint.
        var sinceCheckpoint = 0
    }

    let contents: Mutex<Contents>

    init(_ replayed: ReplayedState) {
        contents = Mutex(
            Contents(
                state: replayed.state, versions: replayed.versions,
                appliedThrough: replayed.head.sequence))
    }

    /// Runs `body` on the committed state under the lock. Keep it short and synchronous.
    func read<R>(_ body: (borrowing Contents) throws -> R) rethrows -> R {
        try contents.withLock { try body($0) }
    }

    /// Folds the events of one committed append.
    /// - Throws: ``FoldError`` when an event does not fit the state, which means the engine
    ///   decided wrongly; the state keeps the events before it.
    func apply(_ instance: InstanceID, _ events: [DomainEvent], committed: AppendResult)
        throws(FoldError)
    {
        try contents.withLock { (c: inout Contents) throws(FoldError) in
            for event in events {
                try c.state.apply(StoredEvent(instance: instance, event: event))
            }
            c.versions[instance] = committed.streamVersion
            c.sinceCheckpoint += events.count
            for position in committed.positions where position.sequence > c.appliedThrough {
                c.appliedAhead.insert(position.sequence)
            }
            while c.appliedAhead.remove(c.appliedThrough + 1) != nil { c.appliedThrough += 1 }
        }
    }
}
