import Foundation
import LMDB
import Synchronization

/// The one owner of the log's write transactions: gathers concurrent appends into one LMDB
/// transaction and one flush.
///
/// Callers enqueue a request and suspend. A dedicated thread (not one of Swift's cooperative
/// threads: a flush takes 0.1–8 ms here and would stall the two-thread pool) takes every request
/// queued so far, stages them all in one write transaction, commits (flushing once), and only
/// then has each caller resumed with its own outcome (by an ``AnswerQueue``, in commit order,
/// while the writer goes on to the next batch). Requests that arrive while the batch is being
/// staged join it, since its transaction is still open; those that arrive while it flushes
/// form the next batch. A lone request is committed at once: no timer waits for company.
///
/// Each request is checked (shape, idempotency, expected version) before anything of it is
/// written, so a rejected request leaves no trace and does not disturb the others in the
/// batch. A storage failure (disk full, map full past its maximum) fails every request of the
/// batch and keeps nothing: LMDB commits all or nothing.
///
/// The in-memory copies of the head and of stream versions change only after a commit
/// succeeded, so a failed commit leaves the writer exactly where it was.
///
/// The Merkle tree grows with the records: while the stored tree covers the whole log, each
/// record's nodes (``MerkleFrontier/append(_:)``) are written to `tree-nodes` in the
/// transaction that writes the record, so the tree never lags and a seal has nothing to hash.
/// A log whose tree is behind (written by an older build) is caught up by
/// ``EventStore/extendMerkleTree(through:)``, whose nodes arrive here as requests of the same
/// queue (as checkpoint saves do: LMDB has one writer, and this thread is it); once they reach
/// the head, the records' own commits take over.
final class GroupCommitWriter: @unchecked Sendable {
    private enum Request {
        case append(QueuedAppend)
        case checkpoint(Checkpoint, CheckedContinuation<Void, any Error>)
        case checkpointParts(
            name: String, parts: [(key: [UInt8], bytes: [UInt8])],
            CheckedContinuation<Void, any Error>)
        case merkleNodes(MerkleTreeNodes, CheckedContinuation<Void, any Error>)
    }

    private enum Outcome {
        case appended(AppendResult)
        case rejected(EventLogError)
        case checkpointSaved
        case merkleNodesStored
    }

    /// What one commit staged, applied to the writer's state only after it committed.
    private struct Staging {
        var head: LogHead
        /// The tree's right edge at ``head``; `nil` while the stored tree is behind the log.
        var frontier: MerkleFrontier?
        var streams: [String: StreamHead] = [:]
        var outcomes: [Outcome] = []
        var events = 0
    }

    /// Most records a tree-node request hashes itself to bring the tree up to the head.
    static let catchUpLimit: UInt64 = 65_536

    /// The writer thread's name as the system shows it (at most 15 bytes).
    static let threadName = "eventlog-writer"

    private let env: LMDBEnvironment
    private let databases: LMDBEventLog.Databases
    private let configuration: LMDBEventLog.Configuration
    private let hub: FollowerHub

    private let condition = NSCondition()
    // Guarded by `condition`:
    private var pending: [Request] = []
    private var stopping = false
    private var finished = false
    private var stopWaiters: [CheckedContinuation<Void, Never>] = []

    // Touched by the writer thread only:
    private var head: LogHead
    /// The Merkle tree's right edge at ``head`` when the stored tree covers the whole log;
    /// `nil` while it is behind (see the type's documentation).
    private var frontier: MerkleFrontier?
    /// Heads of the streams written since open (the stored ones are read once, when needed).
    private var streams: [String: StreamHead] = [:]

    private let answers: AnswerQueue<(Request, Outcome)>
    private let published: Mutex<LogHead>
    let statistics = Mutex(GroupCommitStatistics())

    init(
        env: LMDBEnvironment, databases: LMDBEventLog.Databases, head: LogHead,
        configuration: LMDBEventLog.Configuration, hub: FollowerHub
    ) {
        self.env = env
        self.databases = databases
        self.head = head
        frontier =
            configuration.maintainsMerkleTree
            ? try? GroupCommitWriter.storedFrontier(env: env, databases: databases, at: head)
            : nil
        self.configuration = configuration
        self.hub = hub
        published = Mutex(head)
        answers = AnswerQueue(threadName: "eventlog-answer") { answers in
            for (request, outcome) in answers { GroupCommitWriter.deliver(outcome, to: request) }
        }
        let thread = Thread { [self] in
            // A new thread inherits its creator's system name, and Foundation passes `name` on
            // to the system only when set from the thread itself: without this, `ps`, `top`
            // and `perf` show the writer under the name of the pool thread that opened the log.
            Thread.current.name = GroupCommitWriter.threadName
            run()
        }
        thread.start()
    }

    /// Takes the head of records written behind the writer's back by
    /// ``LMDBEventLog/restore(_:batch:)`` (which runs only on an empty log with nothing queued).
    func adoptRestored(head restored: LogHead) {
        let restoredFrontier =
            configuration.maintainsMerkleTree
            ? try? GroupCommitWriter.storedFrontier(env: env, databases: databases, at: restored)
            : nil
        condition.lock()
        head = restored
        frontier = restoredFrontier
        streams = [:]
        condition.unlock()
        published.withLock { $0 = restored }
    }

    /// The tree's right edge at `head` from the stored nodes, `nil` when the stored tree does
    /// not cover exactly the log up to `head`.
    static func storedFrontier(
        env: LMDBEnvironment, databases: LMDBEventLog.Databases, at head: LogHead
    ) throws -> MerkleFrontier? {
        guard let db = databases.treeNodes else { return nil }
        return try env.retryingResize {
            try env.read { txn in try storedFrontier(txn: txn, db: db, size: head.sequence) }
        }
    }

    /// ``storedFrontier(env:databases:at:)`` inside a transaction the caller holds.
    static func storedFrontier(txn: borrowing LMDBTransaction, db: LMDBDatabase, size: UInt64)
        throws -> MerkleFrontier?
    {
        guard try LMDBEventLog.merkleTreeSize(txn: txn, db: db) == size else { return nil }
        return try MerkleFrontier(size: size) { id in
            guard
                let value = try SequenceKey.withKey(id.lastSequence, { try txn.get(db, key: $0) }),
                let hash = MerkleTreeNodes.hash(level: id.level, in: value)
            else {
                throw EventLogError.corruptedRecord(
                    sequence: id.lastSequence, reason: "Merkle tree \(id) is not stored")
            }
            return hash
        }
    }

    /// The head as of the newest commit.
    var publishedHead: LogHead { published.withLock { $0 } }

    /// Queues an append; the writer commits queued requests in the order they were queued.
    /// An append of the wrong shape (stream id, type tags, sizes, repeated ids) is refused
    /// here, on the caller's thread, and never reaches the writer.
    func submit(stream: String, expecting: ExpectedVersion, events: [ProposedEvent])
        -> PendingAppend
    {
        if let why = AppendPlanner.validate(stream: stream, events: events) {
            return .finished(.failure(.invalidEvent(why)))
        }
        let pending = PendingAppend()
        enqueue(
            .append(
                QueuedAppend(
                    stream: stream, expecting: expecting, events: events, pending: pending)))
        return pending
    }

    func saveCheckpoint(_ checkpoint: Checkpoint) async throws {
        try await withCheckedThrowingContinuation { continuation in
            enqueue(.checkpoint(checkpoint, continuation))
        }
    }

    func saveCheckpointParts(name: String, parts: [(key: [UInt8], bytes: [UInt8])]) async throws {
        try await withCheckedThrowingContinuation { continuation in
            enqueue(.checkpointParts(name: name, parts: parts, continuation))
        }
    }

    func storeMerkleNodes(_ nodes: MerkleTreeNodes) async throws {
        try await withCheckedThrowingContinuation { continuation in
            enqueue(.merkleNodes(nodes, continuation))
        }
    }

    private func enqueue(_ request: Request) {
        condition.lock()
        if stopping {
            condition.unlock()
            switch request {
            case .append(let a): a.pending.complete(.failure(.closed))
            case .checkpoint(_, let c), .checkpointParts(_, _, let c), .merkleNodes(_, let c):
                c.resume(throwing: EventLogError.closed)
            }
            return
        }
        pending.append(request)
        condition.signal()
        condition.unlock()
    }

    /// Stops taking requests, commits the ones queued, then returns.
    func stop() async {
        await withCheckedContinuation { continuation in
            condition.lock()
            stopping = true
            if finished {
                condition.unlock()
                continuation.resume()
                return
            }
            stopWaiters.append(continuation)
            condition.signal()
            condition.unlock()
        }
    }

    /// ``stop()`` for `deinit`: blocks the calling thread until the writer has finished.
    func stopAndWait() {
        condition.lock()
        stopping = true
        condition.signal()
        while !finished { condition.wait() }
        condition.unlock()
    }

    private func run() {
        while true {
            condition.lock()
            while pending.isEmpty && !stopping { condition.wait() }
            if pending.isEmpty {
                condition.unlock()
                answers.finish()
                condition.lock()
                finished = true
                let waiters = stopWaiters
                stopWaiters = []
                condition.broadcast()
                condition.unlock()
                for w in waiters { w.resume() }
                return
            }
            let batch = dequeue(atMost: configuration.maximumRequestsPerCommit)
            condition.unlock()
            commit(batch)
        }
    }

    private func commit(_ first: [Request]) {
        let started = DispatchTime.now().uptimeNanoseconds
        // Outside the transaction's closure on purpose: the closure takes requests from the
        // queue into it, and when LMDB grows the map and runs the closure again, every
        // request taken so far must be staged again and answered once.
        var batch = first
        var stagedAt = started
        let staged: Staging
        do {
            staged = try env.retryingResize {
                try env.write { txn in
                    var staging = Staging(head: head, frontier: frontier)
                    var next = 0
                    repeat {
                        while next < batch.count {
                            staging.outcomes.append(
                                try stage(batch[next], txn: txn, into: &staging))
                            next += 1
                        }
                        // Requests that arrived while this batch was staged join it: the
                        // transaction is still open, so they share its flush without anyone
                        // waiting. The commit starts as soon as nothing more is queued. (With
                        // 64 appenders this took commits from ~32 to 35-48 events.)
                        batch += takeQueued(
                            atMost: configuration.maximumRequestsPerCommit - batch.count)
                    } while next < batch.count
                    stagedAt = DispatchTime.now().uptimeNanoseconds
                    return staging
                }
            }
        } catch {
            let failure = EventLogError.from(error, maximumMapSize: configuration.maximumMapSize)
            answers.submit(batch.map { ($0, .rejected(failure)) })
            return
        }
        let elapsed = DispatchTime.now().uptimeNanoseconds - started
        head = staged.head
        frontier = staged.frontier
        streams.merge(staged.streams) { _, new in new }
        published.withLock { $0 = staged.head }
        statistics.withLock { s in
            s.commits += 1
            s.events += staged.events
            s.requests += batch.count
            s.largestBatch = max(s.largestBatch, batch.count)
            s.commitNanoseconds += elapsed
            s.stagingNanoseconds += stagedAt - started
        }
        answers.submit(Array(zip(batch, staged.outcomes)))
        if staged.events > 0 { hub.notify() }
    }

    /// Takes up to `limit` queued requests, without waiting for any.
    private func takeQueued(atMost limit: Int) -> [Request] {
        guard limit > 0 else { return [] }
        condition.lock()
        defer { condition.unlock() }
        return dequeue(atMost: limit)
    }

    /// Removes and returns the oldest `limit` queued requests (or all). Call with `condition`
    /// locked.
    private func dequeue(atMost limit: Int) -> [Request] {
        let take = min(pending.count, limit)
        guard take > 0 else { return [] }
        let taken = Array(pending.prefix(take))
        pending.removeFirst(take)
        return taken
    }

    /// Resumes the caller of `request` (on the answer thread).
    private static func deliver(_ outcome: Outcome, to request: Request) {
        switch (request, outcome) {
        case (.append(let a), .appended(let result)): a.pending.complete(.success(result))
        case (.append(let a), .rejected(let error)): a.pending.complete(.failure(error))
        case (.checkpoint(_, let c), .checkpointSaved),
            (.checkpointParts(_, _, let c), .checkpointSaved),
            (.merkleNodes(_, let c), .merkleNodesStored):
            c.resume()
        case (.checkpoint(_, let c), .rejected(let error)),
            (.checkpointParts(_, _, let c), .rejected(let error)),
            (.merkleNodes(_, let c), .rejected(let error)):
            c.resume(throwing: error)
        case (.append(let a), _):
            a.pending.complete(.failure(.storage("internal: outcome mismatch")))
        case (.checkpoint(_, let c), _), (.checkpointParts(_, _, let c), _),
            (.merkleNodes(_, let c), _):
            c.resume(throwing: EventLogError.storage("internal: outcome mismatch"))
        }
    }

    /// Checks one request and, when it is acceptable, writes it into `txn`.
    /// Throws only storage errors, which fail the whole batch.
    private func stage(_ request: Request, txn: borrowing LMDBTransaction, into s: inout Staging)
        throws -> Outcome
    {
        switch request {
        case .append(let append):
            return try stageAppend(append, txn: txn, into: &s)
        case .checkpoint(let checkpoint, _):
            return try stageCheckpoint(checkpoint, txn: txn)
        case .checkpointParts(let name, let parts, _):
            guard let db = databases.checkpointParts else { return .rejected(.readOnly) }
            for part in parts {
                try txn.put(
                    db, key: Checkpoint.storageKey(name: name, part: part.key), value: part.bytes)
            }
            return .checkpointSaved
        case .merkleNodes(let nodes, _):
            return try stageMerkleNodes(nodes, txn: txn, into: &s)
        }
    }

    /// Replaces the checkpoint of its name when its position is a record of this log and its
    /// parts are stored, and removes the parts of that name it does not name.
    private func stageCheckpoint(_ checkpoint: Checkpoint, txn: borrowing LMDBTransaction)
        throws -> Outcome
    {
        if let why = Checkpoint.refusal(name: checkpoint.name, partKeys: checkpoint.parts) {
            return .rejected(.invalidEvent(why))
        }
        if let why = checkpoint.refusalToSave(
            try LMDBEventLog.match(checkpoint, txn: txn, databases: databases))
        {
            return .rejected(.invalidEvent(why))
        }
        try txn.put(
            databases.checkpoints, key: Array(checkpoint.name.utf8), value: checkpoint.encoded())
        guard let db = databases.checkpointParts else { return .checkpointSaved }
        let prefix = Checkpoint.storagePrefix(name: checkpoint.name)
        let named = Set(checkpoint.parts.map { prefix + $0 })
        var unnamed: [[UInt8]] = []
        try txn.withCursor(db) { cursor in
            var entry = try prefix.withUnsafeBytes { try cursor.seek(atOrAfter: $0) }
            while let e = entry, e.key.starts(with: prefix) {
                let key = Array(e.key)
                if !named.contains(key) { unnamed.append(key) }
                entry = try cursor.next()
            }
        }
        for key in unnamed { _ = try txn.delete(db, key: key) }
        return .checkpointSaved
    }

    /// Writes the nodes of records after the stored tree at the end of `tree-nodes`.
    /// When they bring the tree up to the head, the records' own commits take over.
    private func stageMerkleNodes(
        _ nodes: MerkleTreeNodes, txn: borrowing LMDBTransaction, into s: inout Staging
    ) throws -> Outcome {
        guard let db = databases.treeNodes else { return .rejected(.readOnly) }
        let stored = try LMDBEventLog.merkleTreeSize(txn: txn, db: db)
        if let why = nodes.refusal(storedSize: stored, logSize: s.head.sequence) {
            return .rejected(.invalidEvent(why))
        }
        for (offset, entry) in nodes.nodes.enumerated() {
            let sequence = nodes.firstSequence + UInt64(offset)
            guard sequence > stored else { continue }
            let value = MerkleTreeNodes.encode(entry)
            try SequenceKey.withKey(sequence) { key in
                try value.withUnsafeBytes { try txn.put(db, key: key, value: $0, flags: .append) }
            }
        }
        // The records appended since the extension read the head (a few, under load) are
        // hashed here from this transaction, so that the tree reaches the head and the
        // records' own commits carry it on from now.
        let covered = max(stored, nodes.nodes.isEmpty ? 0 : nodes.lastSequence)
        if s.frontier == nil, configuration.maintainsMerkleTree,
            s.head.sequence - covered <= Self.catchUpLimit,
            var caught = try GroupCommitWriter.storedFrontier(txn: txn, db: db, size: covered)
        {
            while caught.size < s.head.sequence {
                let sequence = caught.size + 1
                try SequenceKey.withKey(sequence) { key in
                    guard let bytes = try txn.get(databases.records, key: key) else {
                        throw EventLogError.corruptedRecord(
                            sequence: sequence, reason: "record missing")
                    }
                    let hash = try LMDBEventLog.decode(bytes, at: sequence).hash
                    let value = MerkleTreeNodes.encode(caught.append(.leaf(record: hash)))
                    try value.withUnsafeBytes {
                        try txn.put(db, key: key, value: $0, flags: .append)
                    }
                }
            }
            s.frontier = caught
        }
        return .merkleNodesStored
    }

    private func stageAppend(
        _ append: QueuedAppend, txn: borrowing LMDBTransaction, into s: inout Staging
    ) throws -> Outcome {
        let stream = append.stream
        let events = append.events
        var streamHead = StreamHead.none
        let plan = try AppendPlanner.plan(
            stream: stream, expecting: append.expecting, events: events, validated: true,
            existing: { id in try existing(id, txn: txn) },
            currentVersion: {
                streamHead =
                    try s.streams[stream] ?? streams[stream]
                    ?? StreamHead.stored(stream, txn: txn, heads: databases.streamHeads)
                return streamHead.version
            })
        switch plan {
        case .reject(let error): return .rejected(error)
        case .duplicate(let result): return .appended(result)
        case .write: break
        }
        let recordedAt = max(configuration.clock.nowMicroseconds(), s.head.recordedAt)
        var positions = [EventPosition]()
        positions.reserveCapacity(events.count)
        var version = streamHead.version
        var link = streamHead.sequence
        var previous = s.head.hash
        var sequence = s.head.sequence
        var streamID = stream
        try streamID.withUTF8 { streamBytes in
            let streamBytes = UnsafeRawBufferPointer(streamBytes)
            for event in events {
                sequence += 1
                version += 1
                // Records and links grow at their ends (`MDB_APPEND`); the event ids are
                // time-ordered. Only the stream's head entry is rewritten in place, once per
                // append. The record is encoded and hashed in the space LMDB reserved for it.
                try SequenceKey.withKey(sequence) { key in
                    previous = try txn.put(
                        databases.records, key: key,
                        reserving: RecordCodec.encodedSize(
                            streamBytes: streamBytes.count, event: event),
                        flags: .append
                    ) { space in
                        RecordCodec.encode(
                            into: space, sequence: sequence, stream: streamBytes,
                            streamVersion: version, recordedAt: recordedAt, event: event,
                            previousHash: previous)
                    }
                    try SequenceKey.withKey(link) {
                        try txn.put(databases.streamLinks, key: key, value: $0, flags: .append)
                    }
                    if s.frontier != nil, let treeNodes = databases.treeNodes {
                        let completed = s.frontier!.append(.leaf(record: previous))
                        try withUnsafeTemporaryAllocation(
                            byteCount: 32 * completed.count, alignment: 8
                        ) { value in
                            for (level, hash) in completed.enumerated() {
                                hash.withBytes {
                                    UnsafeMutableRawBufferPointer(
                                        rebasing: value[(32 * level)..<(32 * level + 32)]
                                    ).copyMemory(from: $0)
                                }
                            }
                            try txn.put(
                                treeNodes, key: key, value: UnsafeRawBufferPointer(value),
                                flags: .append)
                        }
                    }
                }
                var idValue = (sequence.bigEndian, version.bigEndian)
                var id = (event.id.high.bigEndian, event.id.low.bigEndian)
                try withUnsafeBytes(of: &id) { key in
                    try withUnsafeBytes(of: &idValue) {
                        try txn.put(databases.eventIDs, key: key, value: $0, flags: .noOverwrite)
                    }
                }
                link = sequence
                positions.append(EventPosition(sequence: sequence, streamVersion: version))
            }
        }
        let newHead = StreamHead(version: version, sequence: sequence)
        try newHead.store(stream, txn: txn, heads: databases.streamHeads)
        s.head = LogHead(sequence: sequence, hash: previous, recordedAt: recordedAt)
        s.streams[stream] = newHead
        s.events += events.count
        return .appended(AppendResult(stream: stream, positions: positions, wasDuplicate: false))
    }

    /// Where an event id already in the log (or staged earlier in this transaction) landed.
    private func existing(_ id: EventID, txn: borrowing LMDBTransaction) throws -> AppendPlanner
        .Existing?
    {
        guard let hit = try txn.getBytes(databases.eventIDs, key: id.bytes), hit.count == 16 else {
            return nil
        }
        let (sequence, version) = hit.withUnsafeBytes {
            (
                SequenceKey.decode(UnsafeRawBufferPointer(rebasing: $0[0..<8])),
                SequenceKey.decode(UnsafeRawBufferPointer(rebasing: $0[8..<16]))
            )
        }
        guard
            let bytes = try SequenceKey.withKey(
                sequence, { try txn.getBytes(databases.records, key: Array($0)) })
        else {
            throw EventLogError.corruptedRecord(
                sequence: sequence, reason: "event-id index names a missing record")
        }
        let stream = try bytes.withUnsafeBytes {
            try LMDBEventLog.decode($0, at: sequence).streamString
        }
        return AppendPlanner.Existing(
            stream: stream, position: EventPosition(sequence: sequence, streamVersion: version))
    }
}
