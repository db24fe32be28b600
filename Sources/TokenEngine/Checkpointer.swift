import EventLog
import Synchronization
import TokenDomain

/// Writes the engine's checkpoints, so that a restart folds only the records after the
/// newest one, at a cost that follows what changed rather than the size of the state.
///
/// - **The copy** (``Projection/copyForCheckpoint()``) takes the instances changed since the
///   last checkpoint under the projection's lock: a copy of each one's fields, sharing its
///   token chunks (no record is copied, and the hash index is left out).
/// - **The parts**: each changed instance's head, and each chunk whose storage is no longer
///   the one the last checkpoint wrote (``StoredCheckpoint``), are encoded here and saved in
///   requests of about ``partBatchBytes``: each is one commit of its own (with LMDB, one
///   turn of the log's one writer, between two batches of appends), so an append waits
///   behind a megabyte of parts at most, never behind the whole state. Unchanged chunks are
///   named again, not written.
/// - **The checkpoint** names every part in order; saving it removes the parts it does not
///   name. A crash before that leaves the previous checkpoint and its parts whole.
///
/// Checkpoints run one at a time (an actor), off the request path: the request that crosses
/// the interval starts one in the background and is answered at once.
///
/// With several servers on one database each writes a checkpoint of its own name
/// (``EngineConfiguration/checkpointName``): two servers writing one would remove each
/// other's parts. Should a part it names still be gone (the save is refused), the next
/// checkpoint writes every part.
actor Checkpointer {
    /// About how many bytes of parts go in one request.
    static let partBatchBytes = 1 << 20

    private let log: any EventStore
    private let name: String
    private let failpoint: Failpoint?
    private let saved: (@Sendable (CheckpointReport) -> Void)?
    /// The parts of the newest checkpoint this engine saved or started from.
    private var stored: StoredCheckpoint
    /// Set while a background checkpoint runs (``startIfIdle(_:)``).
    private nonisolated let running = Mutex(false)
    /// The newest background checkpoint's task.
    private nonisolated let background = Mutex<Task<Void, Never>?>(nil)
    /// The newest checkpoints saved, oldest first (at most ``reportsKept``).
    nonisolated let reports = Mutex<[CheckpointReport]>([])
    static let reportsKept = 100

    init(
        log: any EventStore, name: String, stored: StoredCheckpoint?, failpoint: Failpoint? = nil,
        saved: (@Sendable (CheckpointReport) -> Void)? = nil
    ) {
        self.log = log
        self.name = name
        self.failpoint = failpoint
        self.saved = saved
        self.stored = stored ?? StoredCheckpoint()
    }

    /// Starts a checkpoint in the background unless one is running; never waits.
    nonisolated func startIfIdle(_ projection: Projection) {
        guard
            running.withLock({ busy in
                defer { busy = true }
                return !busy
            })
        else { return }
        let task = Task {
            _ = try? await self.save(projection)
            self.running.withLock { $0 = false }
        }
        background.withLock { $0 = task }
    }

    /// Returns once the newest checkpoint started in the background has finished.
    nonisolated func settled() async {
        await background.withLock { $0 }?.value
    }

    /// Saves a checkpoint of `projection` now. Returns the sequence it covers, or `nil` when
    /// the state does not match a prefix of the log (see
    /// ``Projection/copyForCheckpoint()``).
    /// - Throws: what the log throws; the instances it was to write count as changed again.
    func save(_ projection: Projection) async throws -> UInt64? {
        let started = ContinuousClock.now
        guard let copy = projection.copyForCheckpoint() else { return nil }
        let copied = ContinuousClock.now
        do {
            guard var report = try await write(copy) else { return nil }
            report.copySeconds = (copied - started).seconds
            report.seconds = (ContinuousClock.now - started).seconds
            reports.withLock { all in
                all.append(report)
                if all.count > Self.reportsKept { all.removeFirst(all.count - Self.reportsKept) }
            }
            saved?(report)
            return copy.sequence
        } catch {
            projection.markChanged(copy.instances.map(\.id))
            if case EventLogError.invalidEvent = error {
                // A part it named is gone (another server's checkpoint removed it): write
                // every part next time.
                stored = StoredCheckpoint()
                projection.markEveryInstanceChanged()
            }
            throw error
        }
    }

    private func write(_ copy: Projection.CheckpointCopy) async throws -> CheckpointReport? {
        guard let record = try await log.read(from: copy.sequence, limit: 1).first,
            record.sequence == copy.sequence
        else { return nil }
        var report = CheckpointReport(sequence: copy.sequence)
        report.instancesWritten = copy.instances.count
        var next = stored
        var batch = PartBatch()
        var keys = PartKeys(sequence: copy.sequence)
        for (id, version, state) in copy.instances {
            next.versions[id] = version
            guard let state else {
                next.instances[id] = nil
                continue
            }
            let previous = next.instances[id]
            var written = StoredCheckpoint.Instance(head: keys.next(), chunks: [])
            batch.add(written.head, state.encodeSnapshotHead())
            for (index, chunk) in state.tokens.chunks.enumerated() {
                if let previous, index < previous.chunks.count,
                    state.tokens.sharesChunk(index, with: previous.chunks[index].records)
                {
                    written.chunks.append(previous.chunks[index])
                } else {
                    let key = keys.next()
                    report.chunksWritten += 1
                    batch.add(key, InstanceState.encodeSnapshotChunk(chunk))
                    written.chunks.append((key, chunk))
                    if batch.bytes >= Self.partBatchBytes { try await send(&batch) }
                }
            }
            next.instances[id] = written
            if batch.bytes >= Self.partBatchBytes { try await send(&batch) }
        }
        report.partBytes = batch.sent + batch.bytes
        try await send(&batch)
        let (snapshot, parts) = next.manifest()
        report.parts = parts.count
        report.manifestBytes = snapshot.count
        try await log.saveCheckpoint(
            Checkpoint(
                name: name, sequence: copy.sequence, hash: record.hash,
                snapshot: snapshot, parts: parts))
        stored = next
        return report
    }

    /// Saves the parts of `batch` (one request, one commit) and empties it.
    private func send(_ batch: inout PartBatch) async throws {
        guard !batch.parts.isEmpty else { return }
        let parts = batch.parts
        batch = PartBatch(sent: batch.sent + batch.bytes)
        try await log.saveCheckpointParts(name: name, parts: parts)
        await Failpoint.checkpointBetweenParts.reach(configured: failpoint)
    }

    /// Parts waiting to be sent together.
    private struct PartBatch {
        var parts: [(key: [UInt8], bytes: [UInt8])] = []
        var bytes = 0
        /// Bytes of the batches sent before this one.
        var sent = 0

        mutating func add(_ key: [UInt8], _ part: [UInt8]) {
            parts.append((key, part))
            bytes += part.count
        }
    }

    /// Keys of the parts one checkpoint writes: `u64 BE sequence ‖ u32 BE counter ‖ u32 BE
    /// random`, never the key of a part another attempt wrote.
    private struct PartKeys {
        let sequence: UInt64
        let salt = UInt32.random(in: .min ... .max)
        var counter: UInt32 = 0

        init(sequence: UInt64) { self.sequence = sequence }

        mutating func next() -> [UInt8] {
            defer { counter += 1 }
            var key = [UInt8]()
            key.reserveCapacity(16)
            withUnsafeBytes(of: sequence.bigEndian) { key.append(contentsOf: $0) }
            withUnsafeBytes(of: counter.bigEndian) { key.append(contentsOf: $0) }
            withUnsafeBytes(of: salt.bigEndian) { key.append(contentsOf: $0) }
            return key
        }
    }
}

/// What one checkpoint took and wrote.
public struct CheckpointReport: Sendable, Equatable {
    /// The last record it covers.
    public var sequence: UInt64
    /// From the copy to the saved checkpoint.
    public var seconds = 0.0
    /// The copy under the projection's lock (``Projection/copyForCheckpoint()``).
    public var copySeconds = 0.0
    /// Instances written (changed since the previous checkpoint): a head part each.
    public var instancesWritten = 0
    /// Token chunks written; the others were named again.
    public var chunksWritten = 0
    /// Parts the checkpoint names, written or not.
    public var parts = 0
    /// Bytes of the parts written.
    public var partBytes = 0
    /// Bytes of the checkpoint's own value (its list of streams).
    public var manifestBytes = 0

    public init(sequence: UInt64) { self.sequence = sequence }
}

extension Duration {
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) * 1e-18
    }
}
