/// The contract every event log of Tallystick keeps, whatever stores it.
///
/// Records form one sequence, gapless from 1, hash-chained from the first record on. Each
/// record belongs to one stream (for Tallystick: an instance id) at a stream version, gapless
/// from 1 within the stream. ``LMDBEventLog`` is the durable implementation; an in-memory one
/// with the same behaviour serves the tests of the layers above.
public protocol EventStore: Sendable {
    /// Queues an append without suspending and returns a handle to await its commit.
    ///
    /// Appends submitted one after the other from one thread or actor are committed in that
    /// order, so a caller may submit several appends to one stream with consecutive expected
    /// versions before the first has committed: if one fails, those after it fail with
    /// `wrongExpectedVersion`, even when another writer of a shared store took the versions
    /// they expected (unless they expect `.any`). Errors are those of
    /// ``append(to:expecting:events:)``.
    func submit(to stream: String, expecting: ExpectedVersion, events: [ProposedEvent])
        -> PendingAppend

    /// The newest record's sequence and hash (``LogHead/empty`` for an empty log).
    ///
    /// This read and the next four are `async` so that a store whose records live elsewhere
    /// (a database server) can answer them; a local store answers at once (LMDB's are plain
    /// synchronous functions, which satisfy these requirements).
    func head() async throws -> LogHead

    /// Up to `limit` records from `sequence` on, in order.
    func read(from sequence: UInt64, limit: Int) async throws -> [EventRecord]

    /// The events of `stream` from stream version `version` on, in order.
    func readStream(_ stream: String, from version: UInt64) async throws -> [EventRecord]

    /// The current version of `stream` (0 when it has no events).
    func streamVersion(_ stream: String) async throws -> UInt64

    /// Calls `body` with each record from `sequence` through `through` (or the newest record
    /// when `nil`), read in place from one consistent snapshot. With `verifyingChain`, each
    /// record's hash link is checked first.
    ///
    /// `async` so that a store whose records live elsewhere can fetch them a page at a time
    /// without blocking a thread (LMDB's synchronous scan satisfies it); `body` stays
    /// synchronous, since a ``RecordView`` points into storage and must not cross a suspension.
    /// - Throws: ``EventLogError/corruptedRecord(sequence:reason:)`` at the first record that
    ///   does not decode, is out of sequence or (when verifying) does not chain; what `body`
    ///   throws.
    @discardableResult
    func scan(
        from sequence: UInt64, through: UInt64?, verifyingChain: Bool,
        _ body: (RecordView) throws -> Void
    ) async throws -> LogHead

    /// Every record from `sequence` on, then each new record as it commits: a stream that ends
    /// when the log closes (or throws when it fails) and stops when the consuming task is
    /// cancelled.
    func follow(from sequence: UInt64) -> AsyncThrowingStream<EventRecord, any Error>

    /// Saves a projection's snapshot with the position it covers, and removes the stored
    /// parts of its name that it does not name. The position must be a record of this log
    /// (sequence and hash both match) and every part it names must be stored, or
    /// `invalidEvent` is thrown and the previous checkpoint stays.
    func saveCheckpoint(_ checkpoint: Checkpoint) async throws

    /// Stores parts of a checkpoint of `name` to come (replacing parts with the same keys),
    /// committed together and apart from any other checkpoint request: appends wait behind
    /// these parts at most, never behind a whole snapshot, so keep each call small (the
    /// engine sends at most about a megabyte). See ``Checkpoint``.
    /// - Throws: `invalidEvent` for an empty or overlong name or key.
    func saveCheckpointParts(name: String, parts: [(key: [UInt8], bytes: [UInt8])]) async throws

    /// The checkpoint saved under `name`, if there is one whose sequence and hash match this
    /// log and whose parts are all stored; a stale or foreign one is reported as rejected and
    /// must not be used.
    func checkpoint(named name: String) async throws -> CheckpointLookup

    /// Runs `body` on the bytes of `checkpoint`'s parts, in the order it names them. The
    /// buffers are valid only during `body` (LMDB passes its pages, without copying).
    /// - Throws: ``EventLogError/corruptedRecord(sequence:reason:)`` (at the checkpoint's
    ///   sequence) when a part is not stored; what `body` throws.
    func withCheckpointParts<R>(
        of checkpoint: Checkpoint, _ body: ([UnsafeRawBufferPointer]) throws -> R
    ) async throws -> R

    /// How many records the stored Merkle tree covers: its nodes are stored for sequences
    /// 1 through this (``MerkleTreeNodes``). It may be behind the log: see
    /// ``extendMerkleTree(through:)``.
    func merkleTreeSize() async throws -> UInt64

    /// The stored hashes of complete subtrees, each within the stored tree.
    /// - Throws: ``EventLogError/corruptedRecord(sequence:reason:)`` for a node the stored tree
    ///   should hold and does not; `storage`.
    func merkleNodes(_ nodes: [MerkleNodeID]) async throws -> [MerkleNodeID: MerkleHash]

    /// Stores the nodes of records after the stored tree (those it already holds are skipped).
    /// - Throws: ``EventLogError/invalidEvent(_:)`` when they would leave a gap, go past the
    ///   log's newest record or are incomplete (``MerkleTreeNodes/refusal(storedSize:logSize:)``);
    ///   `readOnly`, `closed`, `storage`.
    func storeMerkleNodes(_ nodes: MerkleTreeNodes) async throws

    /// Finishes appends in flight, stops followers and releases the storage.
    func close() async
}

extension EventStore {
    /// Appends `events` to `stream` atomically, if the stream is at `expecting`.
    ///
    /// Returns once the events are durably stored (or, when every event id is already in the
    /// log, at once with the original positions and `wasDuplicate` set).
    /// - Throws: ``EventLogError``: `wrongExpectedVersion` (nothing written; re-read and decide
    ///   again), `idempotencyConflict`, `invalidEvent`, `diskFull`, `mapFullBeyondMaximum`,
    ///   `closed`, `readOnly`, `storage`.
    public func append(to stream: String, expecting: ExpectedVersion, events: [ProposedEvent])
        async throws
        -> AppendResult
    {
        try await submit(to: stream, expecting: expecting, events: events).result()
    }

    /// Every record, in order (for tests and small logs).
    public func readAll() async throws -> [EventRecord] {
        var all = [EventRecord]()
        try await scan(from: 1, through: nil, verifyingChain: false) { all.append($0.copy()) }
        return all
    }
}
