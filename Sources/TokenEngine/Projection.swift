import EventLog
import Synchronization
import TokenDomain

/// The committed state every request reads: folded from the log at start, then changed by
/// the instance actors as their events commit and, when other servers write the same log, by
/// the engine's follower as their records arrive (``fold(_:)``). Each record is folded once,
/// by whichever of the two gets to it first.
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
        /// Instances changed since the last checkpoint took its copy: the next one writes
        /// these, and names the stored parts of the others again.
        var changed: Set<InstanceID> = []
        /// With other servers on the log: the event ids of this server's appends in flight,
        /// which their actors fold (the follower leaves them alone, so that a pipelined
        /// decision never counts an append twice).
        var ownInFlight: Set<EventID> = []
        /// Set when the follower stopped: nobody waits for records any more.
        var stopped = false
        /// Tasks waiting until a sequence is folded (``waitUntilApplied(through:)``).
        var waiting: [(through: UInt64, continuation: CheckedContinuation<Void, Never>)] = []
        /// The follower, waiting until an append of this server is folded or released
        /// (``waitWhileInFlight(_:)``).
        var waitingForOwn: [(id: EventID, continuation: CheckedContinuation<Void, Never>)] = []

        /// Whether the record at `sequence` is folded in.
        func hasApplied(_ sequence: UInt64) -> Bool {
            sequence <= appliedThrough || appliedAhead.contains(sequence)
        }

        /// Marks `sequence` folded, advances ``appliedThrough`` and returns the waiters it
        /// releases (to resume outside the lock).
        mutating func markApplied(_ sequence: UInt64)
            -> [CheckedContinuation<Void, Never>]
        {
            if sequence > appliedThrough { appliedAhead.insert(sequence) }
            while appliedAhead.remove(appliedThrough + 1) != nil { appliedThrough += 1 }
            guard !waiting.isEmpty else { return [] }
            var released: [CheckedContinuation<Void, Never>] = []
            waiting.removeAll { waiter in
                guard waiter.through <= appliedThrough else { return false }
                released.append(waiter.continuation)
                return true
            }
            return released
        }

        /// Takes `ids` out of this server's appends in flight and returns the waiters that
        /// releases.
        mutating func endFlight(_ ids: [EventID]) -> [CheckedContinuation<Void, Never>] {
            for id in ids { ownInFlight.remove(id) }
            guard !waitingForOwn.isEmpty, !ids.isEmpty else { return [] }
            let ended = Set(ids)
            var released: [CheckedContinuation<Void, Never>] = []
            waitingForOwn.removeAll { waiter in
                guard ended.contains(waiter.id) else { return false }
                released.append(waiter.continuation)
                return true
            }
            return released
        }
    }

    let contents: Mutex<Contents>

    /// The state of `replayed`; the instances its folds touched (every instance when it
    /// started from no checkpoint) count as changed, and the events it folded count towards
    /// the next checkpoint (a start that folded a long tail checkpoints at its first command).
    init(_ replayed: ReplayedState) {
        var contents = Contents(
            state: replayed.state, versions: replayed.versions,
            appliedThrough: replayed.head.sequence)
        contents.sinceCheckpoint = replayed.eventsFolded
        contents.changed =
            replayed.stored == nil ? Set(replayed.versions.keys) : replayed.foldedInstances
        self.contents = Mutex(contents)
    }

    /// Runs `body` on the committed state under the lock. Keep it short and synchronous.
    func read<R>(_ body: (borrowing Contents) throws -> R) rethrows -> R {
        try contents.withLock { try body($0) }
    }

    /// Folds the events of one committed append (nothing when the follower already did).
    /// - Throws: ``FoldError`` when an event does not fit the state, which means the engine
    ///   decided wrongly; the state keeps the events before it.
    /// - Parameter own: the ids of the append's events when they were marked in flight
    ///   (``markInFlight(_:)``); they are released in the same critical section.
    func apply(
        _ instance: InstanceID, _ events: [DomainEvent], committed: AppendResult,
        own: [EventID] = []
    ) throws(FoldError) {
        let released = try contents.withLock {
            (c: inout Contents) throws(FoldError) -> [CheckedContinuation<Void, Never>] in
            var released = c.endFlight(own)
            if let first = committed.positions.first, c.hasApplied(first.sequence) {
                return released
            }
            for event in events {
                try c.state.apply(StoredEvent(instance: instance, event: event))
            }
            c.versions[instance] = committed.streamVersion
            c.sinceCheckpoint += events.count
            c.changed.insert(instance)
            for position in committed.positions {
                released += c.markApplied(position.sequence)
            }
            return released
        }
        for waiter in released { waiter.resume() }
    }

    /// Folds one record another server appended (or this one, when the follower sees it
    /// before the instance's actor folded it: then the actor skips it).
    /// - Throws: ``ReplayedState/FoldFailure`` when it does not decode or fit.
    func fold(_ record: EventRecord) throws {
        let released = try contents.withLock {
            (c: inout Contents) throws -> [CheckedContinuation<Void, Never>] in
            guard !c.hasApplied(record.sequence) else { return [] }
            if record.stream == SignedTreeHead.stream { return c.markApplied(record.sequence) }
            guard let instance = InstanceID(record.stream) else {
                throw ReplayedState.FoldFailure(
                    sequence: record.sequence, reason: "stream is not an instance id")
            }
            let event: DomainEvent
            do {
                event = try record.payload.withUnsafeBytes {
                    try EventCodec.decode(tag: record.type, payload: $0)
                }
                try c.state.apply(StoredEvent(instance: instance, event: event))
            } catch {
                throw ReplayedState.FoldFailure(sequence: record.sequence, reason: "\(error)")
            }
            c.versions[instance] = record.streamVersion
            c.sinceCheckpoint += 1
            c.changed.insert(instance)
            return c.markApplied(record.sequence)
        }
        for waiter in released { waiter.resume() }
    }

    /// What a checkpoint writes: the instances changed since the last one, as of
    /// ``sequence``.
    struct CheckpointCopy: Sendable {
        var sequence: UInt64
        /// Each changed instance's stream version and state (`nil` once purged).
        var instances: [(id: InstanceID, version: UInt64, state: InstanceState?)]
    }

    /// Takes the copy a checkpoint writes, in time proportional to the instances changed
    /// since the last one (each a copy of its fields that shares its token chunks, without
    /// its hash index), and starts counting changes afresh. `nil` when the state does not
    /// match a prefix of the log (a record folded ahead of an earlier one) or is empty.
    func copyForCheckpoint() -> CheckpointCopy? {
        contents.withLock { c in
            guard c.appliedAhead.isEmpty, c.appliedThrough > 0 else { return nil }
            c.sinceCheckpoint = 0
            defer { c.changed = [] }
            return CheckpointCopy(
                sequence: c.appliedThrough,
                instances: c.changed.map { id in
                    (id, c.versions[id] ?? 0, c.state[id]?.withoutTokenIndex())
                })
        }
    }

    /// Counts `instances` as changed again (a checkpoint of them failed).
    func markChanged(_ instances: some Sequence<InstanceID>) {
        contents.withLock { $0.changed.formUnion(instances) }
    }

    /// Counts every instance stream as changed (the next checkpoint writes them all).
    func markEveryInstanceChanged() {
        contents.withLock { $0.changed.formUnion($0.versions.keys) }
    }

    /// Marks records that hold nothing of the state (signed tree heads) as folded, so that
    /// the records after them count as folded in order.
    func skip(_ positions: [EventPosition]) {
        let released = contents.withLock { c in
            positions.flatMap { c.hasApplied($0.sequence) ? [] : c.markApplied($0.sequence) }
        }
        for waiter in released { waiter.resume() }
    }

    /// Whether `record` belongs to an append of this server still in flight: its actor folds
    /// it.
    func isInFlight(_ record: EventRecord) -> Bool {
        contents.withLock { $0.ownInFlight.contains(record.eventID) }
    }

    /// Stops every wait for records (the follower failed: none will come); later waits
    /// return at once.
    func stopWaiting() {
        let released = contents.withLock { c in
            c.stopped = true
            defer {
                c.waiting = []
                c.waitingForOwn = []
            }
            return c.waiting.map(\.continuation) + c.waitingForOwn.map(\.continuation)
        }
        for waiter in released { waiter.resume() }
    }

    /// Marks the events of an append about to be submitted as this server's own.
    func markInFlight(_ ids: [EventID]) {
        contents.withLock { $0.ownInFlight.formUnion(ids) }
    }

    /// Releases the ids of an append that did not commit, or whose outcome is unknown (the
    /// database went away during its commit): if its records are in the log after all, the
    /// follower folds them like another server's.
    func releaseInFlight(_ ids: [EventID]) {
        let released = contents.withLock { $0.endFlight(ids) }
        for waiter in released { waiter.resume() }
    }

    /// Returns once `record`, of an append of this server, is no longer in flight: its actor
    /// folded it, or released it when the append was answered with a failure.
    func waitWhileInFlight(_ record: EventRecord) async {
        await withCheckedContinuation { continuation in
            let ready = contents.withLock { c in
                guard c.ownInFlight.contains(record.eventID), !c.stopped else { return true }
                c.waitingForOwn.append((record.eventID, continuation))
                return false
            }
            if ready { continuation.resume() }
        }
    }

    /// Returns once every record through `sequence` is folded in.
    func waitUntilApplied(through sequence: UInt64) async {
        await withCheckedContinuation { continuation in
            let ready = contents.withLock { c in
                guard c.appliedThrough < sequence, !c.stopped else { return true }
                c.waiting.append((sequence, continuation))
                return false
            }
            if ready { continuation.resume() }
        }
    }
}
