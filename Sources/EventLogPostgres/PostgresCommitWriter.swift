import EventLog
import Foundation
import Logging
import PostgresNIO
import Synchronization

/// The one writer of a ``PostgresEventLog`` in this process: gathers the appends queued while
/// a commit is in flight into the next commit, one transaction and one round trip for many
/// appends.
///
/// A task (not a thread: every wait is on the database, never on a lock of this process)
/// takes every queued append, plans the batch (shape, idempotency, expected versions, the
/// records' sequences, hashes and bytes) and writes it with one `CALL` of
/// `tallystick.commit_batch` (``PostgresSchema``), then completes each append's
/// ``PendingAppend`` in submission order. Appends of one stream queued one after the other
/// are planned in that order, so when one is refused those after it that expected its
/// versions are refused with `wrongExpectedVersion`, as the protocol promises.
///
/// ## A refused append takes those queued behind it along
/// With other servers writing, an append queued behind a refused one may find its expected
/// version free after all: another server's append took the version the refused one was to
/// have. Its caller decided it on top of the refused append (an instance's actor pipelines
/// its decisions), so committing it would act on a state that never was, such as a token
/// minted from a parent another server revoked. So every append of a stream that was
/// submitted before a refusal of that stream was answered is refused too
/// (`wrongExpectedVersion`) unless it expects `.any`; one submitted after the answer is
/// decided as usual. The writer keeps, per stream, the submission count read just after it
/// answered the refusal (an append submitted in between is refused needlessly and retried by
/// its caller, never the other way round).
///
/// Two ways to commit a batch:
/// - **Planned from what this writer knows** (the usual one, one statement and one round
///   trip): the head and the stream versions as of this writer's last batch, read once for a
///   stream it has not seen. The statement moves the head only if it is still where the plan
///   began, so when another server appended in between, nothing is written (`TS001`); the
///   batch is then planned once more on the head and versions read without a lock and
///   written again, and goes the second way only if that fails too. Event ids are assumed
///   new: a repeated one fails the unique index (`23505`) and the batch goes the second way
///   too, as does a batch in which an append is refused (a refusal could hide a repeat of
///   ids this writer has not read).
/// - **Under the head's lock**: `BEGIN`, `SELECT … FROM head FOR UPDATE` (waits for any other
///   writer's commit), then, in later statements so that their snapshots see that commit,
///   the stream versions and the batch's event ids, the same plan and write, `COMMIT`. This
///   always makes progress, however busy the other servers are.
///
/// ## One batch at a time, in one round trip
/// Batches commit one after the other, each holding the head's row lock from taking it until
/// its commit is flushed. `commit_batch` is a procedure that commits before its `CALL`
/// completes, so the lock is held for the insert and the flush only, never over a round trip
/// to this process, and the answer still follows the flush. The next batch is taken once
/// the one before it was answered and this task yielded once: the callers it just answered
/// run first, so the appends they make next join the batch instead of waiting for the one
/// after it.
///
/// Why not two batches in flight (the design before this one, measured against it in
/// alternating runs; BENCHMARKS.md, "PostgreSQL store, third round"): with 64 appenders each
/// waiting for its answer, a second batch in flight only splits them into two batches of
/// about 32, each committed in turn; one batch at a time carries all 64. The earlier writer
/// sent batch *B+1* once *B* held the head's lock inside `BEGIN`, `append_batch`, `COMMIT`,
/// so the lock was also held over the round trip that returned `append_batch` and brought
/// the `COMMIT`: 20–28k events/s, 1.13–1.66× PostgreSQL's own single-row durable inserts of
/// the same run (ten runs). One `CALL` per batch, one batch at a time, with the yield:
/// 33–42k events/s, 1.66–2.01× (seven runs, each above the runs of the earlier writer
/// beside it); without the yield, 36 events per commit instead of 64 and 1.41–1.52×. A
/// pipelined variant of the single `CALL` (*B+1* waiting inside PostgreSQL, on a session
/// advisory lock that *B* gives up once it holds the head) halved the time between commits
/// but also the batches, and did no better than the earlier writer.
///
/// Either way the answer is given only once the commit returned, i.e. once PostgreSQL
/// flushed it (`synchronous_commit = on` is the server's default; a store that needs
/// durability must not turn it off). A failure of the connection during a commit leaves its
/// outcome unknown: the batch's appends fail with `storage`, and a retry with the same event
/// ids is answered as a duplicate if the commit had happened.
final class PostgresCommitWriter: Sendable {
    private struct Queue {
        var pending: [QueuedAppend] = []
        /// Appends submitted so far; the next one gets number `submitted + 1`.
        var submitted: UInt64 = 0
        var waiter: CheckedContinuation<Void, Never>?
        var stopping = false
    }

    /// What the writer knows of the database as of its last batch; empty when unsure.
    private struct Known {
        var head: LogHead?
        var versions: [String: UInt64] = [:]
    }

    /// Appends taken from the queue together, numbered in submission order from `first`.
    private struct Batch {
        let first: UInt64
        let appends: [QueuedAppend]

        var streams: [String] { Array(Set(appends.map(\.stream))) }
        var numbered: some Sequence<(number: UInt64, append: QueuedAppend)> {
            appends.enumerated().lazy.map { (first + UInt64($0.offset), $0.element) }
        }
    }

    /// One batch planned: each append's outcome and the rows to write.
    private struct Plan {
        var before: LogHead
        var head: LogHead
        var outcomes: [Result<AppendResult, EventLogError>] = []
        var versions: [String: UInt64] = [:]
        var sequences: [Int64] = []
        var streams: [String] = []
        var streamVersions: [Int64] = []
        var ids: [UUID] = []
        var records: [ByteBuffer] = []
    }

    private let client: PostgresClient
    private let clock: any LogClock
    private let hub: FollowerHub
    private let logger: Logger
    private let maximumAppendsPerCommit: Int
    private let databaseTimeout: Duration
    private let queue = Mutex(Queue())
    /// Per stream, the submission count when a refusal of it was answered: appends of the
    /// stream numbered up to it are refused (see the type's documentation). Only the
    /// writer's task uses it.
    private let refusedThrough = Mutex<[String: UInt64]>([:])
    private let loop = Mutex<Task<Void, Never>?>(nil)
    let statistics = Mutex(PostgresCommitStatistics())

    init(
        client: PostgresClient, clock: any LogClock, hub: FollowerHub, logger: Logger,
        maximumAppendsPerCommit: Int, databaseTimeout: Duration
    ) {
        self.client = client
        self.databaseTimeout = databaseTimeout
        self.clock = clock
        self.hub = hub
        self.logger = logger
        self.maximumAppendsPerCommit = maximumAppendsPerCommit
        let task = Task { [self] in await run() }
        loop.withLock { $0 = task }
    }

    /// Queues an append; appends are committed in the order they were queued. One of the
    /// wrong shape is refused here and never reaches the database.
    func submit(stream: String, expecting: ExpectedVersion, events: [ProposedEvent])
        -> PendingAppend
    {
        if let why = AppendPlanner.validate(stream: stream, events: events) {
            return .finished(.failure(.invalidEvent(why)))
        }
        let pending = PendingAppend()
        let append = QueuedAppend(
            stream: stream, expecting: expecting, events: events, pending: pending)
        let (accepted, waiter): (Bool, CheckedContinuation<Void, Never>?) = queue.withLock { q in
            if q.stopping { return (false, nil) }
            q.pending.append(append)
            q.submitted += 1
            defer { q.waiter = nil }
            return (true, q.waiter)
        }
        guard accepted else { return .finished(.failure(.closed)) }
        // The writer takes the batch when it runs, not here: appends queued while it wakes up
        // join the same batch.
        waiter?.resume()
        return pending
    }

    /// Stops taking appends, commits the ones queued, then returns.
    func stop() async {
        let waiter = queue.withLock { q in
            q.stopping = true
            defer { q.waiter = nil }
            return q.waiter
        }
        waiter?.resume()
        await loop.withLock { $0 }?.value
    }

    /// Waits for appends and takes them (at most ``maximumAppendsPerCommit``); `nil` once
    /// stopping with nothing queued.
    private func next() async -> Batch? {
        func ready(_ q: inout Queue) -> Batch?? {
            if !q.pending.isEmpty {
                let n = min(q.pending.count, maximumAppendsPerCommit)
                let first = q.submitted - UInt64(q.pending.count) + 1
                let batch = Batch(first: first, appends: Array(q.pending.prefix(n)))
                q.pending.removeFirst(n)
                return .some(batch)
            }
            return q.stopping ? .some(nil) : nil
        }
        while true {
            if let next = queue.withLock({ ready(&$0) }) { return next }
            await withCheckedContinuation { continuation in
                let now = queue.withLock { q in
                    if !q.pending.isEmpty || q.stopping { return true }
                    q.waiter = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        }
    }

    private func run() async {
        var known = Known()
        while let batch = await next() {
            await commit(batch, known: &known)
            // The callers just answered run before the next batch is taken, so that the
            // appends they make next join it (see the type's documentation).
            await Task.yield()
        }
    }

    /// Plans `batch` on what is known (read once for a stream not seen yet) and writes it in
    /// one round trip, then answers its appends; when that cannot be done or fails, commits
    /// it again (another server appended) or under the head's lock (an append is refused,
    /// nothing reliable is known, an event id is stored already).
    private func commit(_ batch: Batch, known: inout Known) async {
        let started = ContinuousClock.now
        let streams = batch.streams
        let unknown = streams.filter { known.versions[$0] == nil }
        do {
            if known.head == nil {
                let (head, versions) = try await bounded {
                    try await self.readState(streams: streams)
                }
                known = Known(head: head, versions: versions)
            } else if !unknown.isEmpty {
                let read = try await bounded { try await self.readVersions(unknown, on: nil) }
                known.versions.merge(read) { old, _ in old }
            }
        } catch {
            return await commitLocked(batch, known: &known)
        }
        guard let head = known.head else { return await commitLocked(batch, known: &known) }
        switch await writeUnlocked(
            batch, head: head, versions: known.versions, known: &known, since: started)
        {
        case .answered: return
        case .headMoved: await commitAgain(batch, known: &known)
        case .underLock: await commitLocked(batch, known: &known)
        }
    }

    /// Commits `batch` again after another server moved the head: plans it on the head and
    /// stream versions read now (one snapshot, no lock) and writes it, which with two busy
    /// servers usually succeeds in two round trips; when the head moved again, an append is
    /// refused (the event ids must be read), or an id is stored already, it is committed
    /// under the head's lock instead (``commitLocked(_:known:)``, which always makes progress).
    private func commitAgain(_ batch: Batch, known: inout Known) async {
        let started = ContinuousClock.now
        let streams = batch.streams
        guard
            let (head, versions) = try? await bounded({ try await self.readState(streams: streams) }
            )
        else {
            return await commitLocked(batch, known: &known)
        }
        switch await writeUnlocked(
            batch, head: head, versions: versions, known: &known, since: started)
        {
        case .answered: return
        case .headMoved, .underLock: await commitLocked(batch, known: &known)
        }
    }

    /// What became of a batch written without the head's lock.
    private enum Unlocked {
        /// Committed, or failed with the database's error: its appends are answered.
        case answered
        /// Another server moved the head first: nothing was written.
        case headMoved
        /// It must be decided under the head's lock: an append is refused, or an event id is
        /// stored already. Nothing was written.
        case underLock
    }

    /// Plans `batch` on `head` and `versions` and writes it in one round trip without the
    /// head's lock; answers its appends when it committed or the database failed, and
    /// leaves `known` at what it committed (empty after a failure).
    private func writeUnlocked(
        _ batch: Batch, head: LogHead, versions: [String: UInt64], known: inout Known,
        since started: ContinuousClock.Instant
    ) async -> Unlocked {
        let plan = plan(batch, head: head, versions: versions, existing: [:])
        // A refusal planned without the stored event ids may hide a repeat (which is answered
        // with its original positions whatever version it expected): refusals are decided
        // under the lock, with the ids read.
        if plan.outcomes.contains(where: { if case .failure = $0 { true } else { false } }) {
            return .underLock
        }
        do {
            try await bounded { try await self.write(plan, on: nil) }
        } catch {
            known = Known()
            let state = PostgresEventLog.sqlState(of: error)
            if state == PostgresSchema.headMoved { return .headMoved }
            if state == "23505" { return .underLock }
            let failure = PostgresEventLog.mapped(error)
            answer(batch, batch.appends.map { _ in .failure(failure) })
            return .answered
        }
        known = Known(head: plan.head, versions: versions.merging(plan.versions) { _, new in new })
        record(plan, locked: false, since: started)
        answer(batch, plan.outcomes)
        return .answered
    }

    /// Plans and writes `batch` under the head's lock, with nothing else of this writer in
    /// flight, and answers its appends. This always makes progress: the plan is made from
    /// what the database holds once every other writer's commit is visible.
    private func commitLocked(_ batch: Batch, known: inout Known) async {
        let started = ContinuousClock.now
        let streams = batch.streams
        let outcomes: [Result<AppendResult, EventLogError>]
        do {
            let plan = try await bounded {
                try await self.client.withTransaction(logger: self.logger) { connection in
                    let head = try await self.lockHead(on: connection)
                    let versions = try await self.readVersions(streams, on: connection)
                    let existing = try await self.readExisting(
                        batch.appends.flatMap { $0.events.map(\.id) }, on: connection)
                    let plan = self.plan(batch, head: head, versions: versions, existing: existing)
                    if !plan.records.isEmpty { try await self.write(plan, on: connection) }
                    return plan
                }
            }
            known = Known(head: plan.head, versions: plan.versions)
            record(plan, locked: true, since: started)
            outcomes = plan.outcomes
        } catch {
            known = Known()
            let failure = PostgresEventLog.mapped(error)
            outcomes = batch.appends.map { _ in .failure(failure) }
        }
        answer(batch, outcomes)
    }

    /// Completes each append of `batch` with its outcome, in order; then, for each stream
    /// with a refused append, refuses the appends of that stream submitted so far (see the
    /// type's documentation), and forgets the marks every answered append is past. When the
    /// database was unavailable, every append still queued fails with it too.
    private func answer(_ batch: Batch, _ outcomes: [Result<AppendResult, EventLogError>]) {
        var refused = Set<String>()
        var unavailable: EventLogError?
        for (append, outcome) in zip(batch.appends, outcomes) {
            append.pending.complete(outcome)
            if case .failure(let error) = outcome {
                refused.insert(append.stream)
                if case .unavailable = error { unavailable = error }
            }
        }
        let submitted = queue.withLock { $0.submitted }
        let answered = batch.first + UInt64(batch.appends.count) - 1
        refusedThrough.withLock { marks in
            for stream in refused { marks[stream] = submitted }
            marks = marks.filter { $0.value > answered }
        }
        // The database is out of reach: the appends queued behind this batch would each wait
        // for it as long again. They fail now; appends submitted from here on try again.
        if let unavailable {
            let (first, queued) = queue.withLock { q in
                defer { q.pending = [] }
                return (q.submitted - UInt64(q.pending.count) + 1, q.pending)
            }
            if !queued.isEmpty {
                answer(
                    Batch(first: first, appends: queued), queued.map { _ in .failure(unavailable) })
            }
        }
    }

    private func record(_ plan: Plan, locked: Bool, since started: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - started
        statistics.withLock { s in
            s.commits += 1
            s.events += plan.records.count
            s.requests += plan.outcomes.count
            if locked { s.lockedCommits += 1 }
            s.commitDuration += elapsed
        }
        if !plan.records.isEmpty { hub.notify() }
    }

    // MARK: Planning

    /// Checks each append in order against the refusals it is queued behind, the head, the
    /// stream versions and the event ids known (plus those planned before it in this batch)
    /// and encodes the records of those accepted. `versions` holds every stream of the batch.
    private func plan(
        _ batch: Batch, head: LogHead, versions: [String: UInt64],
        existing stored: [EventID: AppendPlanner.Existing]
    ) -> Plan {
        var plan = Plan(before: head, head: head)
        var ids = stored
        var refused = refusedThrough.withLock { $0 }
        for (number, append) in batch.numbered {
            let stream = append.stream
            let current = plan.versions[stream] ?? versions[stream] ?? 0
            if append.expecting != .any, let mark = refused[stream], number <= mark {
                plan.outcomes.append(
                    .failure(
                        .wrongExpectedVersion(
                            stream: stream, expected: append.expecting, actual: current)))
                continue
            }
            let decision = AppendPlanner.plan(
                stream: stream, expecting: append.expecting, events: append.events,
                validated: true, existing: { ids[$0] }, currentVersion: { current })
            switch decision {
            case .reject(let error):
                plan.outcomes.append(.failure(error))
                // Those queued behind it in this batch were submitted before its answer.
                refused[stream] = batch.first + UInt64(batch.appends.count)
                continue
            case .duplicate(let result):
                plan.outcomes.append(.success(result))
                continue
            case .write:
                break
            }
            let recordedAt = max(clock.nowMicroseconds(), plan.head.recordedAt)
            var version = current
            var positions = [EventPosition]()
            for event in append.events {
                let sequence = plan.head.sequence + 1
                version += 1
                let (bytes, hash) = RecordCodec.encode(
                    sequence: sequence, stream: stream, streamVersion: version,
                    recordedAt: recordedAt, event: event, previousHash: plan.head.hash)
                plan.head = LogHead(sequence: sequence, hash: hash, recordedAt: recordedAt)
                let position = EventPosition(sequence: sequence, streamVersion: version)
                ids[event.id] = AppendPlanner.Existing(stream: stream, position: position)
                positions.append(position)
                plan.sequences.append(Int64(sequence))
                plan.streams.append(stream)
                plan.streamVersions.append(Int64(version))
                plan.ids.append(event.id.uuid)
                plan.records.append(ByteBuffer(bytes: bytes))
            }
            plan.versions[stream] = version
            plan.outcomes.append(
                .success(AppendResult(stream: stream, positions: positions, wasDuplicate: false)))
        }
        return plan
    }

    // MARK: Statements

    private func bounded<R: Sendable>(_ body: @escaping @Sendable () async throws -> R)
        async throws -> R
    {
        try await PostgresEventLog.bounded(databaseTimeout, body)
    }

    /// Calls `append_batch` on `connection` (inside its transaction), or `commit_batch` on a
    /// pooled connection (its own transaction, committed before the call returns) when `nil`.
    private func write(_ plan: Plan, on connection: PostgresConnection?) async throws {
        let query = PostgresSchema.appendBatch(
            from: plan.before, to: plan.head, sequences: plan.sequences, streams: plan.streams,
            versions: plan.streamVersions, ids: plan.ids, records: plan.records,
            committing: connection == nil)
        if let connection {
            _ = try await connection.query(query, logger: logger).collect()
        } else {
            _ = try await client.query(query, logger: logger).collect()
        }
    }

    /// The head and the versions of `streams`, from one snapshot, without locking.
    private func readState(streams: [String]) async throws -> (
        head: LogHead, versions: [String: UInt64]
    ) {
        let rows = try await client.query(
            """
            SELECT h.sequence, h.hash, h.recorded_at, s.stream,
                (SELECT coalesce(max(r.stream_version), 0) FROM tallystick.records r
                 WHERE r.stream = s.stream)
            FROM tallystick.head h LEFT JOIN unnest(\(streams)::text[]) AS s(stream) ON true
            """, logger: logger
        ).collect()
        var head = LogHead.empty
        var versions = [String: UInt64]()
        for row in rows {
            let (sequence, hash, recordedAt, stream, version) = try row.decode(
                (Int64, ByteBuffer, Int64, String?, Int64?).self)
            head = try PostgresEventLog.head(sequence, hash, recordedAt)
            if let stream, let version { versions[stream] = UInt64(version) }
        }
        return (head, versions)
    }

    /// Takes the head's row lock, waiting for a commit of another server that holds it.
    private func lockHead(on connection: PostgresConnection) async throws -> LogHead {
        let rows = try await connection.query(
            "SELECT sequence, hash, recorded_at FROM tallystick.head FOR UPDATE", logger: logger
        ).collect()
        guard let row = rows.first else {
            throw EventLogError.corruptedRecord(sequence: 0, reason: "the head row is missing")
        }
        let (sequence, hash, recordedAt) = try row.decode((Int64, ByteBuffer, Int64).self)
        return try PostgresEventLog.head(sequence, hash, recordedAt)
    }

    /// The versions of `streams` (0 for one without records), on `connection` (inside its
    /// transaction) or on a pooled one when `nil`.
    private func readVersions(_ streams: [String], on connection: PostgresConnection?)
        async throws -> [String: UInt64]
    {
        var versions = [String: UInt64]()
        let query: PostgresQuery = """
            SELECT s.stream, (SELECT coalesce(max(r.stream_version), 0)
                              FROM tallystick.records r WHERE r.stream = s.stream)
            FROM unnest(\(streams)::text[]) AS s(stream)
            """
        let rows =
            if let connection {
                try await connection.query(query, logger: logger).collect()
            } else {
                try await client.query(query, logger: logger).collect()
            }
        for row in rows {
            let (stream, version) = try row.decode((String, Int64).self)
            versions[stream] = UInt64(version)
        }
        return versions
    }

    /// Where the stored ones among `ids` landed.
    private func readExisting(_ ids: [EventID], on connection: PostgresConnection) async throws
        -> [EventID: AppendPlanner.Existing]
    {
        var found = [EventID: AppendPlanner.Existing]()
        let rows = try await connection.query(
            """
            SELECT event_id, stream, sequence, stream_version FROM tallystick.records
            WHERE event_id = ANY(\(ids.map(\.uuid))::uuid[])
            """, logger: logger
        ).collect()
        for row in rows {
            let (id, stream, sequence, version) = try row.decode((UUID, String, Int64, Int64).self)
            found[EventID(uuid: id)] = AppendPlanner.Existing(
                stream: stream,
                position: EventPosition(sequence: UInt64(sequence), streamVersion: UInt64(version)))
        }
        return found
    }
}

/// Counters of a ``PostgresEventLog``'s writer, for benchmarks and metrics.
public struct PostgresCommitStatistics: Sendable, Equatable {
    /// Batches committed (or answered without writing).
    public var commits = 0
    /// Events written.
    public var events = 0
    /// Appends answered.
    public var requests = 0
    /// Batches that had to be planned again under the head's lock (another server appended,
    /// or an event id was already stored).
    public var lockedCommits = 0
    /// Time from taking a batch to its commit.
    public var commitDuration = Duration.zero
}
