import EventLog
import Synchronization

/// An ``EventStore`` kept in memory, with the same records, hashes, checks and answers as the
/// durable log, for the tests of the layers above it.
///
/// Its ``Storage`` outlives the log, so a test can "reopen" it with ``reopen()`` and continue
/// the chain. Several logs open over one storage at once play several servers sharing one
/// database: each one's appends wake the followers of all (as PostgreSQL's NOTIFY does).
public final class InMemoryEventLog: EventStore, Sendable {
    /// What survives a reopen.
    public final class Storage: Sendable {
        struct Contents {
            var records: [[UInt8]] = []
            var head = LogHead.empty
            var ids: [EventID: (stream: String, position: EventPosition)] = [:]
            var streams: [String: [UInt64]] = [:]
            var checkpoints: [String: Checkpoint] = [:]
            /// Checkpoint parts by name, then key.
            var checkpointParts: [String: [[UInt8]: [UInt8]]] = [:]
            /// The Merkle tree nodes of records 1...count, as ``MerkleTreeNodes`` holds them.
            var treeNodes: [[MerkleHash]] = []
        }
        let contents = Mutex(Contents())
        /// The follower hubs of the logs open over this storage.
        let hubs = Mutex<[ObjectIdentifier: FollowerHub]>([:])
        public init() {}
    }

    public let storage: Storage
    private let clock: any LogClock
    private let hub = FollowerHub()
    private let closed = Mutex(false)

    public init(storage: Storage = Storage(), clock: any LogClock = SystemLogClock()) {
        self.storage = storage
        self.clock = clock
        storage.hubs.withLock { [hub] in $0[ObjectIdentifier(hub)] = hub }
    }

    /// A new log over the same storage, as if the process restarted.
    public func reopen() -> InMemoryEventLog { InMemoryEventLog(storage: storage, clock: clock) }

    /// Appends at once (there is no flush to wait for) and returns the finished answer.
    public func submit(to stream: String, expecting: ExpectedVersion, events: [ProposedEvent])
        -> PendingAppend
    {
        do {
            return .finished(
                .success(try appendNow(to: stream, expecting: expecting, events: events)))
        } catch let error as EventLogError {
            return .finished(.failure(error))
        } catch {
            return .finished(.failure(.storage(String(describing: error))))
        }
    }

    private func appendNow(to stream: String, expecting: ExpectedVersion, events: [ProposedEvent])
        throws -> AppendResult
    {
        if closed.withLock({ $0 }) { throw EventLogError.closed }
        let now = clock.nowMicroseconds()
        let result: AppendResult = try storage.contents.withLock { c in
            let plan = AppendPlanner.plan(
                stream: stream, expecting: expecting, events: events,
                existing: { id in
                    c.ids[id].map {
                        AppendPlanner.Existing(stream: $0.stream, position: $0.position)
                    }
                },
                currentVersion: { UInt64(c.streams[stream]?.count ?? 0) })
            let current: UInt64
            switch plan {
            case .reject(let error): throw error
            case .duplicate(let result): return result
            case .write(let v): current = v
            }
            let recordedAt = max(now, c.head.recordedAt)
            var positions = [EventPosition]()
            var version = current
            for event in events {
                let sequence = c.head.sequence + 1
                version += 1
                let (bytes, hash) = RecordCodec.encode(
                    sequence: sequence, stream: stream, streamVersion: version,
                    recordedAt: recordedAt,
                    event: event, previousHash: c.head.hash)
                c.records.append(bytes)
                c.head = LogHead(sequence: sequence, hash: hash, recordedAt: recordedAt)
                let position = EventPosition(sequence: sequence, streamVersion: version)
                c.ids[event.id] = (stream, position)
                c.streams[stream, default: []].append(sequence)
                positions.append(position)
            }
            return AppendResult(stream: stream, positions: positions, wasDuplicate: false)
        }
        if !result.wasDuplicate {
            for hub in storage.hubs.withLock({ Array($0.values) }) { hub.notify() }
        }
        return result
    }

    public func head() throws -> LogHead { storage.contents.withLock { $0.head } }

    public func read(from sequence: UInt64, limit: Int) throws -> [EventRecord] {
        let slice: [[UInt8]] = storage.contents.withLock { c in
            let start = Int(max(sequence, 1)) - 1
            guard start < c.records.count, limit > 0 else { return [] }
            return Array(c.records[start..<min(c.records.count, start + limit)])
        }
        return try slice.map { bytes in
            try bytes.withUnsafeBytes { try RecordCodec.view($0).copy() }
        }
    }

    public func readStream(_ stream: String, from version: UInt64) throws -> [EventRecord] {
        let sequences = storage.contents.withLock { $0.streams[stream] ?? [] }
        let from = Int(max(version, 1)) - 1
        guard from < sequences.count else { return [] }
        return try sequences[from...].map { try read(from: $0, limit: 1)[0] }
    }

    public func streamVersion(_ stream: String) throws -> UInt64 {
        storage.contents.withLock { UInt64($0.streams[stream]?.count ?? 0) }
    }

    @discardableResult
    public func scan(
        from sequence: UInt64, through: UInt64?, verifyingChain: Bool,
        _ body: (RecordView) throws -> Void
    ) throws -> LogHead {
        let records = storage.contents.withLock { $0.records }
        let start = Int(max(sequence, 1))
        var previous = ChainHash.zero
        if start > 1, start - 2 < records.count {
            previous = try records[start - 2].withUnsafeBytes { try RecordCodec.view($0).hash }
        }
        var last = LogHead(sequence: UInt64(start - 1), hash: previous, recordedAt: 0)
        let end = min(records.count, through.map { Int($0) } ?? records.count)
        guard start <= end else { return last }
        for index in (start - 1)..<end {
            try records[index].withUnsafeBytes { raw in
                let view: RecordView
                do { view = try RecordCodec.view(raw) } catch let error as RecordCodec.DecodingError
                {
                    throw EventLogError.corruptedRecord(
                        sequence: UInt64(index + 1), reason: error.reason)
                }
                if verifyingChain, let why = RecordCodec.verifyHash(view, previous: previous) {
                    throw EventLogError.corruptedRecord(sequence: view.sequence, reason: why)
                }
                try body(view)
                previous = view.hash
                last = LogHead(
                    sequence: view.sequence, hash: view.hash, recordedAt: view.recordedAt)
            }
        }
        return last
    }

    public func follow(from sequence: UInt64) -> AsyncThrowingStream<EventRecord, any Error> {
        hub.followStream(from: sequence) { [self] next in try read(from: next, limit: 1024) }
    }

    public func saveCheckpoint(_ checkpoint: Checkpoint) async throws {
        if closed.withLock({ $0 }) { throw EventLogError.closed }
        if let why = Checkpoint.refusal(name: checkpoint.name, partKeys: checkpoint.parts) {
            throw EventLogError.invalidEvent(why)
        }
        if let why = checkpoint.refusalToSave(try match(checkpoint)) {
            throw EventLogError.invalidEvent(why)
        }
        storage.contents.withLock { c in
            c.checkpoints[checkpoint.name] = checkpoint
            let named = Set(checkpoint.parts)
            c.checkpointParts[checkpoint.name] = c.checkpointParts[checkpoint.name]?.filter {
                named.contains($0.key)
            }
        }
    }

    public func saveCheckpointParts(name: String, parts: [(key: [UInt8], bytes: [UInt8])])
        async throws
    {
        if closed.withLock({ $0 }) { throw EventLogError.closed }
        if let why = Checkpoint.refusal(name: name, partKeys: parts.map(\.key)) {
            throw EventLogError.invalidEvent(why)
        }
        storage.contents.withLock { c in
            for part in parts { c.checkpointParts[name, default: [:]][part.key] = part.bytes }
        }
    }

    public func checkpoint(named name: String) throws -> CheckpointLookup {
        guard let cp = storage.contents.withLock({ $0.checkpoints[name] }) else { return .none }
        return try match(cp)
    }

    public func withCheckpointParts<R>(
        of checkpoint: Checkpoint, _ body: ([UnsafeRawBufferPointer]) throws -> R
    ) throws -> R {
        let stored = storage.contents.withLock { $0.checkpointParts[checkpoint.name] ?? [:] }
        return try checkpoint.withParts({ stored[$0] }, body)
    }

    private func match(_ cp: Checkpoint) throws -> CheckpointLookup {
        let record = cp.sequence > 0 ? try read(from: cp.sequence, limit: 1).first : nil
        let stored = storage.contents.withLock { $0.checkpointParts[cp.name] ?? [:] }
        return .judging(
            cp, recordHash: record?.sequence == cp.sequence ? record?.hash : nil,
            missingPart: cp.parts.firstIndex { stored[$0] == nil })
    }

    public func merkleTreeSize() throws -> UInt64 {
        storage.contents.withLock { UInt64($0.treeNodes.count) }
    }

    public func merkleNodes(_ nodes: [MerkleNodeID]) throws -> [MerkleNodeID: MerkleHash] {
        try storage.contents.withLock { c in
            var found = [MerkleNodeID: MerkleHash]()
            for id in nodes {
                let position = Int(id.lastSequence) - 1
                guard position < c.treeNodes.count, Int(id.level) < c.treeNodes[position].count
                else {
                    throw EventLogError.corruptedRecord(
                        sequence: id.lastSequence, reason: "Merkle tree \(id) is not stored")
                }
                found[id] = c.treeNodes[position][Int(id.level)]
            }
            return found
        }
    }

    public func storeMerkleNodes(_ nodes: MerkleTreeNodes) throws {
        if closed.withLock({ $0 }) { throw EventLogError.closed }
        try storage.contents.withLock { c in
            let stored = UInt64(c.treeNodes.count)
            if let why = nodes.refusal(storedSize: stored, logSize: c.head.sequence) {
                throw EventLogError.invalidEvent(why)
            }
            for (offset, entry) in nodes.nodes.enumerated()
            where nodes.firstSequence + UInt64(offset) > stored {
                c.treeNodes.append(entry)
            }
        }
    }

    public func close() async {
        closed.withLock { $0 = true }
        _ = storage.hubs.withLock { [hub] in $0.removeValue(forKey: ObjectIdentifier(hub)) }
        hub.close()
    }
}
