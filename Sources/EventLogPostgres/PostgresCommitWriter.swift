import EventLog
import Foundation
import Logging
import PostgresNIO
import Synchronization

/// The one writer of a ``PostgresEventLog`` in this process: gathers the appends queued while
/// a commit is in flight into the next commit, one transaction for many appends.
///
/// A task (not a thread: every wait is on the database, never on a lock of this process)
/// takes every queued append, plans the batch (shape, idempotency, expected versions, the
/// records' sequences, hashes and bytes) and writes it with one call of
/// `tallystick.append_batch` (``PostgresSchema``), then completes each append's
/// ``PendingAppend`` in submission order. Appends of one stream queued one after the other
/// are planned in that order, so when one is refused those after it that expected its
/// versions are refused with `wrongExpectedVersion`, as the protocol promises.
///
/// Two ways to commit a batch:
/// - **Planned from what this writer knows** (the usual one, one statement and one round
///   trip): the head and the stream versions as of this writer's last commit, read once for a
///   stream it has not seen. The statement moves the head only if it is still where the plan
///   began, so when another server appended in between, nothing is written (`TS001`) and the
///   batch goes the second way. Event ids are assumed new: a repeated one fails the unique
///   index (`23505`) and the batch goes the second way too, as does a batch in which an
///   append is refused (a refusal could hide a repeat of ids this writer has not read).
/// - **Under the head's lock**: `BEGIN`, `SELECT … FROM head FOR UPDATE` (waits for any other
///   writer's commit), then, in later statements so that their snapshots see that commit,
///   the stream versions and the batch's event ids, the same plan and write, `COMMIT`. This
///   always makes progress, however busy the other servers are.
///
/// Either way the answer is given only once the commit returned, i.e. once PostgreSQL
/// flushed it (`synchronous_commit = on` is the server's default; a store that needs
/// durability must not turn it off). A failure of the connection during a commit leaves its
/// outcome unknown: the batch's appends fail with `storage`, and a retry with the same event
/// ids is answered as a duplicate if the commit had happened.
final class PostgresCommitWriter: Sendable {
    private struct Queue {
        var pending: [QueuedAppend] = []
        var waiter: CheckedContinuation<[QueuedAppend]?, Never>?
        var stopping = false
    }

    /// What the writer knows of the database as of its last commit; empty when unsure.
    private struct Known {
        var head: LogHead?
        var versions: [String: UInt64] = [:]
    }

    /// One batch planned: each append's outcome and the rows to write.
    private struct Plan {
        var before: LogHead
        var head: LogHead
        var outcomes: [Result<AppendResult, EventLogError>] = []
        var versions: [String: UInt64] = [:]
        /// Streams written, with their versions before the batch (checked by the database).
        var checks: [String: UInt64] = [:]
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
    private let queue = Mutex(Queue())
    private let loop = Mutex<Task<Void, Never>?>(nil)
    let statistics = Mutex(PostgresCommitStatistics())

    init(
        client: PostgresClient, clock: any LogClock, hub: FollowerHub, logger: Logger,
        maximumAppendsPerCommit: Int
    ) {
        self.client = client
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
        let (accepted, handOff):
            (Bool, (CheckedContinuation<[QueuedAppend]?, Never>, [QueuedAppend])?) =
                queue.withLock { q in
                    if q.stopping { return (false, nil) }
                    q.pending.append(append)
                    guard let waiter = q.waiter else { return (true, nil) }
                    q.waiter = nil
                    return (true, (waiter, take(from: &q)))
                }
        guard accepted else { return .finished(.failure(.closed)) }
        if let (waiter, batch) = handOff { waiter.resume(returning: batch) }
        return pending
    }

    /// Stops taking appends, commits the ones queued, then returns.
    func stop() async {
        let waiter = queue.withLock { q in
            q.stopping = true
            defer { q.waiter = nil }
            return q.waiter
        }
        waiter?.resume(returning: nil)
        await loop.withLock { $0 }?.value
    }

    private func take(from q: inout Queue) -> [QueuedAppend] {
        let n = min(q.pending.count, maximumAppendsPerCommit)
        let batch = Array(q.pending.prefix(n))
        q.pending.removeFirst(n)
        return batch
    }

    /// The next batch, waiting for one; `nil` once stopping with nothing queued.
    private func next() async -> [QueuedAppend]? {
        await withCheckedContinuation { continuation in
            let ready: [QueuedAppend]?? = queue.withLock { q in
                if !q.pending.isEmpty { return .some(take(from: &q)) }
                if q.stopping { return .some(nil) }
                q.waiter = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    private func run() async {
        var known = Known()
        while let batch = await next() {
            let outcomes: [Result<AppendResult, EventLogError>]
            do {
                outcomes = try await commit(batch, known: &known)
            } catch {
                known = Known()
                let failure = PostgresEventLog.mapped(error)
                outcomes = batch.map { _ in .failure(failure) }
            }
            for (append, outcome) in zip(batch, outcomes) { append.pending.complete(outcome) }
        }
    }

    private func commit(_ batch: [QueuedAppend], known: inout Known) async throws
        -> [Result<AppendResult, EventLogError>]
    {
        let started = ContinuousClock.now
        let streams = Array(Set(batch.map(\.stream)))
        if known.head == nil || streams.contains(where: { known.versions[$0] == nil }) {
            let (head, versions) = try await readState(streams: streams)
            if head != known.head { known = Known(head: head) }
            known.versions.merge(versions) { _, fresh in fresh }
        }
        if let head = known.head {
            let plan = plan(batch, head: head, versions: known.versions, existing: [:])
            // A refusal planned without the stored event ids may hide a repeat (which is
            // answered with its original positions whatever version it expected): refusals
            // are decided under the lock, with the ids read.
            var confirmed = false
            if plan.outcomes.contains(where: { if case .failure = $0 { true } else { false } }) {
                confirmed = false
            } else {
                do {
                    try await write(plan, on: nil)
                    confirmed = true
                } catch let error
                    where PostgresEventLog.sqlState(of: error).map(
                        [PostgresSchema.headMoved, PostgresSchema.streamMoved, "23505"].contains)
                    == true
                {
                    confirmed = false
                }
            }
            if confirmed {
                known.head = plan.head
                known.versions.merge(plan.versions) { _, new in new }
                record(plan, locked: false, since: started)
                return plan.outcomes
            }
        }
        // Another server appended, or an event id is already stored: plan again under the lock.
        let plan = try await client.withTransaction(logger: logger) { connection in
            let head = try await self.lockHead(on: connection)
            let versions = try await self.readVersions(streams, on: connection)
            let existing = try await self.readExisting(
                batch.flatMap { $0.events.map(\.id) }, on: connection)
            let plan = self.plan(batch, head: head, versions: versions, existing: existing)
            if !plan.records.isEmpty { try await self.write(plan, on: connection) }
            return plan
        }
        known = Known(head: plan.head, versions: plan.versions)
        record(plan, locked: true, since: started)
        return plan.outcomes
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

    /// Checks each append in order against the head, the stream versions and the event ids
    /// known (plus those planned before it in this batch) and encodes the records of those
    /// accepted. `versions` holds every stream of the batch.
    private func plan(
        _ batch: [QueuedAppend], head: LogHead, versions: [String: UInt64],
        existing stored: [EventID: AppendPlanner.Existing]
    ) -> Plan {
        var plan = Plan(before: head, head: head)
        var ids = stored
        for append in batch {
            let stream = append.stream
            let current = plan.versions[stream] ?? versions[stream] ?? 0
            let decision = AppendPlanner.plan(
                stream: stream, expecting: append.expecting, events: append.events,
                validated: true, existing: { ids[$0] }, currentVersion: { current })
            switch decision {
            case .reject(let error):
                plan.outcomes.append(.failure(error))
                continue
            case .duplicate(let result):
                plan.outcomes.append(.success(result))
                continue
            case .write:
                break
            }
            if plan.checks[stream] == nil { plan.checks[stream] = current }
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

    /// Calls `append_batch` on `connection` (inside its transaction), or alone on a pooled
    /// connection (its own transaction) when `nil`.
    private func write(_ plan: Plan, on connection: PostgresConnection?) async throws {
        let checks = plan.checks.sorted { $0.key < $1.key }
        let query: PostgresQuery = """
            SELECT tallystick.append_batch(\(Int64(plan.before.sequence)), \
            \(ByteBuffer(bytes: plan.before.hash.bytes)), \(Int64(plan.head.sequence)), \
            \(ByteBuffer(bytes: plan.head.hash.bytes)), \(plan.head.recordedAt), \
            \(checks.map(\.key)), \(checks.map { Int64($0.value) }), \(plan.sequences), \
            \(plan.streams), \(plan.streamVersions), \(plan.ids), \(plan.records))
            """
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

    /// The versions of `streams` (0 for one without records).
    private func readVersions(_ streams: [String], on connection: PostgresConnection)
        async throws -> [String: UInt64]
    {
        var versions = [String: UInt64]()
        let rows = try await connection.query(
            """
            SELECT s.stream, (SELECT coalesce(max(r.stream_version), 0)
                              FROM tallystick.records r WHERE r.stream = s.stream)
            FROM unnest(\(streams)::text[]) AS s(stream)
            """, logger: logger
        ).collect()
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
