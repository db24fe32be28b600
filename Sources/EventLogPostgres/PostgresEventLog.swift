import EventLog
import Foundation
import Logging
import PostgresNIO
import Synchronization

/// The event log kept in PostgreSQL, for deployments where several Tallystick servers share
/// one database: the same records byte for byte as ``LMDBEventLog`` (``RecordCodec``, the
/// same hash chain), so a dump of one loads into the other and dumps identically.
///
/// Tables and the one writing function are in ``PostgresSchema``; each record is stored as
/// its bytes plus the columns that lookups need (sequence, stream, stream version, event id).
///
/// ## One global order with several writers
/// Every append goes through `tallystick.append_batch`, whose first statement locks the one
/// row of `tallystick.head` (`SELECT … FOR UPDATE`, which waits for a writer committing it
/// and then reads what that writer committed) and whose second moves it from the head the
/// batch was planned on to the batch's last record (sequence and hash), or which fails when
/// the head is no longer there. The row's lock is held until the transaction ends, so writers on every server are serialised by
/// the database: a writer planned on head *N* can commit only records *N+1…*, and only after
/// the writer of *N* committed. Sequences are therefore gapless, each record's previous hash
/// is the hash of the record before it, and **commit order is sequence order**.
///
/// ## Why no reader sees *N+1* before *N*
/// Every read of records (``read(from:limit:)``, ``readStream(_:from:)``, ``scan(from:through:verifyingChain:_:)``,
/// the followers) is bounded by the head in the same statement (`sequence <= (SELECT sequence
/// FROM tallystick.head)`), so it sees one snapshot's head *H* and the records up to it. The
/// transaction that wrote *H* is visible in that snapshot, and every transaction that wrote
/// records below *H* committed before it could take the head's lock; PostgreSQL marks a
/// transaction as committed for new snapshots *before* it releases its locks, so those are
/// visible in the snapshot too. A reader thus sees exactly records 1…*H*, never a record whose
/// predecessor is still in flight. (Reading records without the bound could see a later
/// batch of a transaction that committed in the instant between two reads; the bound makes the
/// argument independent of such timing.)
///
/// ## Group commit
/// One ``PostgresCommitWriter`` per open log writes all of this server's appends: those
/// queued while a commit is in flight go into the next one together (see its documentation
/// for how a batch is planned and when it is planned again under the head's lock).
///
/// ## Followers
/// Each commit notifies channel `tallystick_records` (delivered by PostgreSQL to every server
/// when the transaction commits). One connection per open log listens on it and wakes this
/// server's followers, which then read from the sequence after the last one they delivered,
/// through the head-bounded read above: nothing is missed or delivered twice. When the
/// listening connection is lost (a database restart), it reconnects and wakes every follower
/// once it listens again, so records committed while nobody listened are read then.
public final class PostgresEventLog: EventStore, Sendable {
    /// How to open a log.
    public struct Configuration: Sendable {
        public var location: PostgresLocation
        /// Source of the recorded time of each event.
        public var clock: any LogClock = SystemLogClock()
        /// Most appends gathered into one commit.
        public var maximumAppendsPerCommit = 4096
        /// Connections of the pool: the writer's, the listener's, and the readers'.
        public var maximumConnections = 8
        /// How long ``open(_:)`` waits for the database before giving up.
        public var connectTimeout = Duration.seconds(15)
        /// How long a call waits for the database (a connection, its statements, a commit)
        /// before it fails with ``EventLogError/unavailable(_:)``: while the database is down
        /// or restarting, appends and reads fail after this long instead of waiting for it.
        public var databaseTimeout = Duration.seconds(5)
        /// Where PostgresNIO logs (nothing by default).
        public var logger = Logger(label: "tallystick.eventlog.postgres") { _ in
            SwiftLogNoOpLogHandler()
        }

        public init(location: PostgresLocation) { self.location = location }

        /// - Throws: ``EventLogError/storage(_:)`` for a location it cannot parse.
        public init(url: String) throws { self.init(location: try PostgresLocation(url)) }
    }

    let client: PostgresClient
    let logger: Logger
    let databaseTimeout: Duration
    let hub = FollowerHub()
    private let writer: PostgresCommitWriter
    private let clientTask: Task<Void, Never>
    private let listener = Mutex<Task<Void, Never>?>(nil)
    private let closed = Mutex(false)

    /// Connects, creates the schema when the database has none (or checks its version), and
    /// starts the writer and the listener. Close the log with ``close()``.
    /// - Throws: ``EventLogError``: `unsupportedFormat` (the schema is newer than this build
    ///   knows: upgrade Tallystick), `storage` (the location is wrong, the database cannot be
    ///   reached within ``Configuration/connectTimeout`` or refused the role).
    public static func open(_ configuration: Configuration) async throws -> PostgresEventLog {
        var options = PostgresClient.Configuration.Options()
        options.maximumConnections = configuration.maximumConnections
        options.minimumConnections = 2
        options.connectTimeout = configuration.connectTimeout
        var clientConfiguration = configuration.location.clientConfiguration
        clientConfiguration.options = options
        let client = PostgresClient(
            configuration: clientConfiguration, backgroundLogger: configuration.logger)
        let clientTask = Task { await client.run() }
        do {
            try await withDeadline(configuration.connectTimeout, what: configuration.location) {
                try await PostgresSchema.prepare(client, logger: configuration.logger)
            }
        } catch {
            clientTask.cancel()
            await clientTask.value
            throw mapped(error)
        }
        return PostgresEventLog(
            client: client, clientTask: clientTask, configuration: configuration)
    }

    /// ``open(_:)`` with the defaults, at `url` (the forms of ``PostgresLocation``).
    public static func open(url: String, clock: any LogClock = SystemLogClock()) async throws
        -> PostgresEventLog
    {
        var configuration = try Configuration(url: url)
        configuration.clock = clock
        return try await open(configuration)
    }

    private init(
        client: PostgresClient, clientTask: Task<Void, Never>, configuration: Configuration
    ) {
        self.client = client
        self.clientTask = clientTask
        self.logger = configuration.logger
        databaseTimeout = configuration.databaseTimeout
        writer = PostgresCommitWriter(
            client: client, clock: configuration.clock, hub: hub, logger: configuration.logger,
            maximumAppendsPerCommit: configuration.maximumAppendsPerCommit,
            databaseTimeout: configuration.databaseTimeout)
        let task = Task { [client, hub, logger] in
            await PostgresEventLog.listen(client: client, hub: hub, logger: logger)
        }
        listener.withLock { $0 = task }
    }

    /// Counters of this server's writer since open.
    public var writerStatistics: PostgresCommitStatistics {
        writer.statistics.withLock { $0 }
    }

    // MARK: EventStore

    public func submit(to stream: String, expecting: ExpectedVersion, events: [ProposedEvent])
        -> PendingAppend
    {
        writer.submit(stream: stream, expecting: expecting, events: events)
    }

    public func head() async throws -> LogHead {
        try await guarded { [self] in
            let rows = try await client.query(
                "SELECT sequence, hash, recorded_at FROM tallystick.head", logger: logger
            ).collect()
            guard let row = rows.first else {
                throw EventLogError.corruptedRecord(sequence: 0, reason: "the head row is missing")
            }
            let (sequence, hash, recordedAt) = try row.decode((Int64, ByteBuffer, Int64).self)
            return try PostgresEventLog.head(sequence, hash, recordedAt)
        }
    }

    public func read(from sequence: UInt64, limit: Int) async throws -> [EventRecord] {
        guard limit > 0 else { return [] }
        let first = Int64(clamping: max(sequence, 1))
        return try await guarded { [self] in
            let rows = try await client.query(
                """
                SELECT sequence, record FROM tallystick.records
                WHERE sequence >= \(first)
                  AND sequence <= (SELECT sequence FROM tallystick.head)
                ORDER BY sequence LIMIT \(Int64(limit))
                """, logger: logger
            ).collect()
            var out = [EventRecord]()
            out.reserveCapacity(rows.count)
            var expected = UInt64(first)
            for row in rows {
                let (sequence, bytes) = try row.decode((Int64, ByteBuffer).self)
                guard UInt64(sequence) == expected else {
                    throw EventLogError.corruptedRecord(
                        sequence: expected, reason: "record missing (next stored is \(sequence))")
                }
                out.append(try PostgresEventLog.view(bytes, at: expected) { $0.copy() })
                expected += 1
            }
            return out
        }
    }

    public func readStream(_ stream: String, from version: UInt64) async throws -> [EventRecord] {
        let first = max(version, 1)
        return try await guarded { [self] in
            let rows = try await client.query(
                """
                SELECT sequence, record FROM tallystick.records
                WHERE stream = \(stream) AND stream_version >= \(Int64(clamping: first))
                  AND sequence <= (SELECT sequence FROM tallystick.head)
                ORDER BY stream_version
                """, logger: logger
            ).collect()
            var out = [EventRecord]()
            for (offset, row) in rows.enumerated() {
                let (sequence, bytes) = try row.decode((Int64, ByteBuffer).self)
                let record = try PostgresEventLog.view(bytes, at: UInt64(sequence)) { $0.copy() }
                guard record.stream == stream, record.streamVersion == first + UInt64(offset) else {
                    throw EventLogError.corruptedRecord(
                        sequence: record.sequence,
                        reason: "record is not '\(stream)' version \(first + UInt64(offset))")
                }
                out.append(record)
            }
            return out
        }
    }

    public func streamVersion(_ stream: String) async throws -> UInt64 {
        try await guarded { [self] in
            let rows = try await client.query(
                """
                SELECT coalesce(max(stream_version), 0) FROM tallystick.records
                WHERE stream = \(stream) AND sequence <= (SELECT sequence FROM tallystick.head)
                """, logger: logger
            ).collect()
            return UInt64(try rows.first?.decode(Int64.self) ?? 0)
        }
    }

    /// See ``EventStore/scan(from:through:verifyingChain:_:)``. Reads pages of
    /// ``scanPageSize`` records up to the head as it was when the scan began; since records are
    /// never changed once committed, those pages are one consistent snapshot of the log.
    ///
    /// A start-up fold reads the whole log this way, so the work is spread: while `body`
    /// folds one page, the next ``scanPagesAhead`` are read, decoded and have each record's
    /// own hash checked (SHA-256 of its previous hash and its contents) in tasks of their own,
    /// on the other cores; this loop checks the links (each record's previous hash is the hash of the record
    /// before it), which together with those is the whole chain check.
    @discardableResult
    public func scan(
        from sequence: UInt64, through: UInt64?, verifyingChain: Bool,
        _ body: (RecordView) throws -> Void
    ) async throws -> LogHead {
        let start = max(sequence, 1)
        let newest = try await head().sequence
        let end = min(through ?? .max, newest)
        var previous = ChainHash.zero
        if start > 1 {
            guard let before = try await read(from: start - 1, limit: 1).first else {
                throw EventLogError.corruptedRecord(sequence: start - 1, reason: "record missing")
            }
            previous = before.hash
        }
        var last = LogHead(sequence: start - 1, hash: previous, recordedAt: 0)
        var next = start
        // The pages being read, oldest first; each asks for a fixed range, so the next can be
        // sent before the one before it arrived.
        var reading: [Task<ScanPage, any Error>] = []
        var requested = start
        func readAhead() {
            while reading.count < scanPagesAhead, requested <= end {
                let (first, last) = (requested, min(end, requested + scanPageSize - 1))
                reading.append(
                    Task { [self] in
                        try await page(from: first, through: last, checkingHashes: verifyingChain)
                    })
                requested = last + 1
            }
        }
        defer { for task in reading { task.cancel() } }
        readAhead()
        while !reading.isEmpty {
            let page = try await reading.removeFirst().value
            readAhead()
            guard !page.rows.isEmpty else {
                throw EventLogError.corruptedRecord(sequence: next, reason: "record missing")
            }
            for (sequence, record) in page.rows {
                guard sequence == next else {
                    throw EventLogError.corruptedRecord(
                        sequence: next, reason: "record missing (next stored is \(sequence))")
                }
                try PostgresEventLog.view(record, at: next) { view in
                    if verifyingChain {
                        if view.previousHash != previous {
                            throw EventLogError.corruptedRecord(
                                sequence: next, reason: RecordCodec.brokenLink)
                        }
                        if let failure = page.hashFailure, failure.sequence == next {
                            throw EventLogError.corruptedRecord(
                                sequence: next, reason: failure.reason)
                        }
                    }
                    try body(view)
                    previous = view.hash
                    last = LogHead(sequence: next, hash: view.hash, recordedAt: view.recordedAt)
                }
                next += 1
            }
        }
        return last
    }

    /// Records per query of a scan.
    let scanPageSize: UInt64 = 8192
    /// Pages a scan reads ahead of the one it delivers, each on a connection of its own.
    let scanPagesAhead = 3

    /// Stored records of one page of a scan, in order, and the first whose own hash does not
    /// check (when asked to check them).
    struct ScanPage: Sendable {
        var rows: [(sequence: UInt64, record: ByteBuffer)] = []
        /// Each row's lookup columns, when asked for (``PostgresEventLog/verify(progress:)``).
        var columns: [Columns] = []
        var hashFailure: (sequence: UInt64, reason: String)?
    }

    /// What a row says besides its record bytes.
    struct Columns: Sendable {
        var stream: String
        var streamVersion: UInt64
        var eventID: EventID
    }

    /// The records `first...last` in order (committed ones only, which every row at or below a
    /// head once read is), with each one's own hash checked when `checkingHashes` and the
    /// rows' lookup columns when `withColumns`.
    func page(
        from first: UInt64, through last: UInt64, checkingHashes: Bool, withColumns: Bool = false
    ) async throws -> ScanPage {
        let range = "sequence BETWEEN \(Int64(clamping: first)) AND \(Int64(clamping: last))"
        var page = ScanPage()
        if withColumns {
            let rows = try await guarded { [self] in
                try await client.query(
                    PostgresQuery(
                        unsafeSQL: """
                            SELECT sequence, record, stream, stream_version, event_id
                            FROM tallystick.records WHERE \(range) ORDER BY sequence
                            """), logger: logger
                ).collect()
            }
            page.rows.reserveCapacity(rows.count)
            for row in rows {
                let (sequence, record, stream, version, id) = try row.decode(
                    (Int64, ByteBuffer, String, Int64, UUID).self)
                page.rows.append((UInt64(sequence), record))
                page.columns.append(
                    Columns(
                        stream: stream, streamVersion: UInt64(version), eventID: EventID(uuid: id))
                )
            }
        } else {
            // The page's records as one value, each prefixed with its length (4 bytes, big
            // endian): one row to decode instead of thousands, which is most of a scan's cost
            // in this process. Each record names its own sequence.
            let blob = try await guarded { [self] in
                try await client.query(
                    PostgresQuery(
                        unsafeSQL: """
                            SELECT string_agg(int4send(octet_length(record)) || record, ''::bytea
                                              ORDER BY sequence)
                            FROM tallystick.records WHERE \(range)
                            """), logger: logger
                ).collect().first?.decode(ByteBuffer?.self)
            }
            guard var blob else { return page }
            while let length = blob.readInteger(as: UInt32.self) {
                guard let record = blob.readSlice(length: Int(length)) else {
                    throw EventLogError.storage("a page of records was cut short")
                }
                let sequence =
                    (try? record.withUnsafeReadableBytes { try RecordCodec.view($0).sequence })
                    ?? first + UInt64(page.rows.count)
                page.rows.append((sequence, record))
            }
        }
        if checkingHashes {
            for (sequence, record) in page.rows {
                let why = try? PostgresEventLog.view(record, at: sequence) { view in
                    RecordCodec.verifyHash(view, previous: view.previousHash)
                }
                if let why {
                    page.hashFailure = (sequence, why)
                    break
                }
            }
        }
        return page
    }

    public func follow(from sequence: UInt64) -> AsyncThrowingStream<EventRecord, any Error> {
        hub.followStream(from: sequence) { [self] next in
            try await readForFollower(from: next)
        }
    }

    /// A follower's read: retried while the database is unreachable (the follower keeps its
    /// place), and empty once the log is closed (its stream then ends).
    private func readForFollower(from next: UInt64) async throws -> [EventRecord] {
        var delay = Duration.milliseconds(50)
        while true {
            if closed.withLock({ $0 }) { return [] }
            do {
                return try await read(from: next, limit: 1024)
            } catch let error as EventLogError {
                switch error {
                case .unavailable, .storage: break
                default: throw error
                }
                logger.warning("follower read failed, retrying: \(error)")
                try await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(2))
            }
        }
    }

    public func saveCheckpoint(_ checkpoint: Checkpoint) async throws {
        if closed.withLock({ $0 }) { throw EventLogError.closed }
        if let why = Checkpoint.refusal(name: checkpoint.name, partKeys: checkpoint.parts) {
            throw EventLogError.invalidEvent(why)
        }
        if let why = checkpoint.refusalToSave(try await match(checkpoint)) {
            throw EventLogError.invalidEvent(why)
        }
        let parts = checkpoint.parts.map { ByteBuffer(bytes: $0) }
        let distinct = Int64(Set(checkpoint.parts).count)
        // A checkpoint without parts may still be large (a whole state in one snapshot).
        try await guarded(within: max(databaseTimeout, .seconds(300))) { [self] in
            try await client.withTransaction(logger: logger) { connection in
                // Whole, or not at all: another server may have removed a part since.
                let found =
                    try await connection.query(
                        """
                        SELECT count(*) FROM tallystick.checkpoint_parts
                        WHERE name = \(checkpoint.name) AND key = ANY(\(parts)::bytea[])
                        """, logger: logger
                    ).collect().first?.decode(Int64.self) ?? 0
                guard found == distinct else {
                    throw EventLogError.invalidEvent(
                        "checkpoint '\(checkpoint.name)' names parts that are not stored")
                }
                try await connection.query(
                    """
                    DELETE FROM tallystick.checkpoint_parts
                    WHERE name = \(checkpoint.name) AND NOT key = ANY(\(parts)::bytea[])
                    """, logger: logger)
                try await connection.query(
                    """
                    INSERT INTO tallystick.checkpoints (name, sequence, hash, snapshot, parts)
                    VALUES (\(checkpoint.name), \(Int64(clamping: checkpoint.sequence)),
                            \(ByteBuffer(bytes: checkpoint.hash.bytes)),
                            \(ByteBuffer(bytes: checkpoint.snapshot)), \(parts)::bytea[])
                    ON CONFLICT (name) DO UPDATE SET sequence = excluded.sequence,
                        hash = excluded.hash, snapshot = excluded.snapshot,
                        parts = excluded.parts
                    """, logger: logger)
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
        guard !parts.isEmpty else { return }
        let keys = parts.map { ByteBuffer(bytes: $0.key) }
        let values = parts.map { ByteBuffer(bytes: $0.bytes) }
        _ = try await guarded(within: max(databaseTimeout, .seconds(60))) { [self] in
            try await client.query(
                """
                INSERT INTO tallystick.checkpoint_parts (name, key, bytes)
                SELECT \(name), * FROM unnest(\(keys)::bytea[], \(values)::bytea[])
                ON CONFLICT (name, key) DO UPDATE SET bytes = excluded.bytes
                """, logger: logger
            ).collect()
        }
    }

    public func checkpoint(named name: String) async throws -> CheckpointLookup {
        let rows = try await guarded { [self] in
            try await client.query(
                """
                SELECT sequence, hash, snapshot, parts FROM tallystick.checkpoints
                WHERE name = \(name)
                """,
                logger: logger
            ).collect()
        }
        guard let row = rows.first else { return .none }
        let (sequence, hash, snapshot, parts) = try row.decode(
            (Int64, ByteBuffer, ByteBuffer, [ByteBuffer]).self)
        guard hash.readableBytes == 32, sequence >= 0,
            parts.allSatisfy({ (1...Checkpoint.maximumPartKeyLength).contains($0.readableBytes) })
        else {
            return .rejected(reason: "checkpoint '\(name)' does not decode")
        }
        let cp = Checkpoint(
            name: name, sequence: UInt64(sequence),
            hash: hash.withUnsafeReadableBytes { ChainHash(bytes: $0) },
            snapshot: Array(buffer: snapshot), parts: parts.map { Array(buffer: $0) })
        return try await match(cp)
    }

    public func withCheckpointParts<R>(
        of checkpoint: Checkpoint, _ body: ([UnsafeRawBufferPointer]) throws -> R
    ) async throws -> R {
        let keys = checkpoint.parts.map { ByteBuffer(bytes: $0) }
        let rows = try await guarded(within: max(databaseTimeout, .seconds(300))) { [self] in
            try await client.query(
                """
                SELECT key, bytes FROM tallystick.checkpoint_parts
                WHERE name = \(checkpoint.name) AND key = ANY(\(keys)::bytea[])
                """, logger: logger
            ).collect()
        }
        var stored = [[UInt8]: ByteBuffer](minimumCapacity: rows.count)
        for row in rows {
            let (key, bytes) = try row.decode((ByteBuffer, ByteBuffer).self)
            stored[Array(buffer: key)] = bytes
        }
        return try checkpoint.withParts({ stored[$0]?.readableBytesView }, body)
    }

    /// Every stored checkpoint's name, in order.
    func checkpointNames() async throws -> [String] {
        try await guarded { [self] in
            try await client.query(
                "SELECT name FROM tallystick.checkpoints ORDER BY name", logger: logger
            ).collect().map { try $0.decode(String.self) }
        }
    }

    func match(_ cp: Checkpoint) async throws -> CheckpointLookup {
        let record = cp.sequence > 0 ? try await read(from: cp.sequence, limit: 1).first : nil
        var stored = Set<[UInt8]>()
        if !cp.parts.isEmpty {
            let keys = cp.parts.map { ByteBuffer(bytes: $0) }
            let rows = try await guarded { [self] in
                try await client.query(
                    """
                    SELECT key FROM tallystick.checkpoint_parts
                    WHERE name = \(cp.name) AND key = ANY(\(keys)::bytea[])
                    """, logger: logger
                ).collect()
            }
            for row in rows { stored.insert(Array(buffer: try row.decode(ByteBuffer.self))) }
        }
        return .judging(
            cp, recordHash: record?.sequence == cp.sequence ? record?.hash : nil,
            missingPart: cp.parts.firstIndex { !stored.contains($0) })
    }

    public func merkleTreeSize() async throws -> UInt64 {
        try await guarded {
            let rows = try await self.client.query(
                "SELECT coalesce(max(sequence), 0) FROM tallystick.tree_nodes", logger: self.logger
            ).collect()
            return UInt64(max(0, try rows.first?.decode(Int64.self) ?? 0))
        }
    }

    public func merkleNodes(_ nodes: [MerkleNodeID]) async throws -> [MerkleNodeID: MerkleHash] {
        guard !nodes.isEmpty else { return [:] }
        let sequences = Array(Set(nodes.map { Int64(clamping: $0.lastSequence) }))
        let stored: [UInt64: ByteBuffer] = try await guarded {
            var stored = [UInt64: ByteBuffer]()
            let rows = try await self.client.query(
                """
                SELECT sequence, nodes FROM tallystick.tree_nodes
                WHERE sequence = ANY(\(sequences)::bigint[])
                """, logger: self.logger
            ).collect()
            for row in rows {
                let (sequence, value) = try row.decode((Int64, ByteBuffer).self)
                stored[UInt64(sequence)] = value
            }
            return stored
        }
        var found = [MerkleNodeID: MerkleHash](minimumCapacity: nodes.count)
        for id in nodes {
            guard
                let hash = stored[id.lastSequence]?.withUnsafeReadableBytes({
                    MerkleTreeNodes.hash(level: id.level, in: $0)
                })
            else {
                throw EventLogError.corruptedRecord(
                    sequence: id.lastSequence, reason: "Merkle tree \(id) is not stored")
            }
            found[id] = hash
        }
        return found
    }

    /// See ``EventStore/storeMerkleNodes(_:)``. Several servers may extend the tree at once:
    /// an advisory lock takes them in turn, and rows another one stored already are skipped
    /// (they hold the same bytes). Up to 65,536 rows in one statement: given a minute rather
    /// than the usual deadline (a seal waits for it; no request does).
    public func storeMerkleNodes(_ nodes: MerkleTreeNodes) async throws {
        if closed.withLock({ $0 }) { throw EventLogError.closed }
        try await guarded(within: max(databaseTimeout, .seconds(60))) {
            try await self.client.withTransaction(logger: self.logger) { connection in
                try await connection.query(
                    "SELECT pg_advisory_xact_lock(hashtext('tallystick-tree-nodes'))",
                    logger: self.logger)
                let rows = try await connection.query(
                    """
                    SELECT (SELECT coalesce(max(sequence), 0) FROM tallystick.tree_nodes),
                           (SELECT sequence FROM tallystick.head)
                    """, logger: self.logger
                ).collect()
                guard let row = rows.first else { return }
                let (stored, newest) = try row.decode((Int64, Int64).self)
                if let why = nodes.refusal(
                    storedSize: UInt64(max(0, stored)), logSize: UInt64(max(0, newest)))
                {
                    throw EventLogError.invalidEvent(why)
                }
                var sequences = [Int64]()
                var values = [ByteBuffer]()
                for (offset, entry) in nodes.nodes.enumerated() {
                    let sequence = Int64(nodes.firstSequence) + Int64(offset)
                    guard sequence > stored else { continue }
                    sequences.append(sequence)
                    values.append(ByteBuffer(bytes: MerkleTreeNodes.encode(entry)))
                }
                guard !sequences.isEmpty else { return }
                try await connection.query(
                    """
                    INSERT INTO tallystick.tree_nodes (sequence, nodes)
                    SELECT * FROM unnest(\(sequences)::bigint[], \(values)::bytea[])
                    """, logger: self.logger)
            }
        }
    }

    /// Commits the appends already queued, stops followers, the listener and the connection
    /// pool; later appends fail with `closed`.
    public func close() async {
        guard
            closed.withLock({ done in
                defer { done = true }
                return !done
            })
        else { return }
        await writer.stop()
        hub.close()
        let task = listener.withLock { $0 }
        task?.cancel()
        await task?.value
        clientTask.cancel()
        await clientTask.value
    }

    // MARK: Helpers

    /// Runs `body` within `limit` (``Configuration/databaseTimeout`` by default), mapping
    /// every error to ``EventLogError``.
    func guarded<R: Sendable>(
        within limit: Duration? = nil, _ body: @escaping @Sendable () async throws -> R
    ) async throws -> R {
        do {
            return try await PostgresEventLog.bounded(limit ?? databaseTimeout, body)
        } catch {
            throw PostgresEventLog.mapped(error)
        }
    }

    /// Runs `body` (statements on the database), giving up after `limit`: then
    /// `unavailable` is thrown at once and `body` is cancelled (a wait for a connection ends;
    /// a statement under way ends when its connection does, and is not waited for). The
    /// outcome of a commit under way is then unknown, as when its connection is lost.
    static func bounded<R: Sendable>(
        _ limit: Duration, _ body: @escaping @Sendable () async throws -> R
    ) async throws -> R {
        let race = BoundedCall<R>()
        return try await withCheckedThrowingContinuation { answer in
            race.pending.withLock { $0 = answer }
            let work = Task {
                let result: Result<R, any Error>
                do { result = .success(try await body()) } catch { result = .failure(error) }
                race.finish(with: result)
            }
            race.start(
                Task {
                    guard (try? await Task.sleep(for: limit)) != nil else { return }
                    work.cancel()
                    race.finish(
                        with: .failure(
                            EventLogError.unavailable(
                                "PostgreSQL did not answer within \(limit)")))
                })
        }
    }

    /// Listens on the notification channel until cancelled, reconnecting when the
    /// connection is lost; wakes the followers after each notification and each time it
    /// starts listening again.
    private static func listen(client: PostgresClient, hub: FollowerHub, logger: Logger) async {
        var delay = Duration.milliseconds(50)
        while !Task.isCancelled {
            do {
                try await client.withConnection { connection in
                    try await connection.listen(on: PostgresSchema.channel) { notifications in
                        hub.notify()
                        delay = .milliseconds(50)
                        for try await _ in notifications { hub.notify() }
                    }
                }
            } catch {
                if Task.isCancelled { break }
                logger.warning("listening for new records failed, reconnecting: \(error)")
            }
            hub.notify()
            try? await Task.sleep(for: delay)
            delay = min(delay * 2, .seconds(2))
        }
    }

    static func head(_ sequence: Int64, _ hash: ByteBuffer, _ recordedAt: Int64) throws -> LogHead {
        guard sequence >= 0, hash.readableBytes == 32 else {
            throw EventLogError.corruptedRecord(sequence: 0, reason: "the head row does not decode")
        }
        return LogHead(
            sequence: UInt64(sequence), hash: hash.withUnsafeReadableBytes { ChainHash(bytes: $0) },
            recordedAt: recordedAt)
    }

    /// Calls `body` with the record in `bytes`, which must be record `sequence`.
    static func view<R>(
        _ bytes: ByteBuffer, at sequence: UInt64, _ body: (RecordView) throws -> R
    ) throws -> R {
        try bytes.withUnsafeReadableBytes { raw in
            let view: RecordView
            do { view = try RecordCodec.view(raw) } catch let error as RecordCodec.DecodingError {
                throw EventLogError.corruptedRecord(sequence: sequence, reason: error.reason)
            }
            guard view.sequence == sequence else {
                throw EventLogError.corruptedRecord(
                    sequence: sequence, reason: "record says it is sequence \(view.sequence)")
            }
            return try body(view)
        }
    }

    /// The SQLSTATE of a database error, looking inside transaction errors.
    static func sqlState(of error: any Error) -> String? {
        if let e = error as? PostgresTransactionError {
            return [e.closureError, e.commitError, e.beginError].lazy.compactMap { $0 }.first
                .flatMap { sqlState(of: $0) }
        }
        return (error as? PSQLError)?.serverInfo?[.sqlState]
    }

    /// Maps an error in one place. A server error is described by its SQLSTATE and message
    /// only (never its detail, which can quote stored values).
    static func mapped(_ error: any Error) -> EventLogError {
        if let e = error as? EventLogError { return e }
        if let e = error as? PostgresTransactionError,
            let inner = e.closureError ?? e.commitError ?? e.beginError ?? e.rollbackError
        {
            return mapped(inner)
        }
        if let e = error as? PSQLError {
            if let info = e.serverInfo {
                let state = info[.sqlState] ?? "?"
                let what = "PostgreSQL \(state): \(info[.message] ?? "(no message)")"
                return unavailableStates.contains(state) || state.hasPrefix("08")
                    ? .unavailable(what) : .storage(what)
            }
            return unreachableCodes.contains(e.code)
                ? .unavailable("PostgreSQL: \(e.code)") : .storage("PostgreSQL: \(e.code)")
        }
        if error is CancellationError { return .closed }
        // The connection pool's own errors (no connection could be made in time) and the
        // transport's.
        return .unavailable("PostgreSQL: \(String(describing: error))")
    }

    /// Server errors that mean "not now": shutting down, starting up, out of connections
    /// (class `08`, connection exceptions, too).
    private static let unavailableStates: Set<String> = ["57P01", "57P02", "57P03", "53300"]
    /// Client errors that mean the server could not be reached or went away.
    private static let unreachableCodes: [PSQLError.Code] = [
        .connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown,
    ]

    private static func withDeadline(
        _ limit: Duration, what: PostgresLocation,
        _ body: @escaping @Sendable () async throws -> Void
    ) async throws {
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                try await body()
                return true
            }
            group.addTask {
                try await Task.sleep(for: limit)
                return false
            }
            let finished = try await group.next() ?? false
            group.cancelAll()
            guard finished else {
                throw EventLogError.storage("cannot reach PostgreSQL at \(what) within \(limit)")
            }
        }
    }
}

extension EventID {
    /// The id as PostgreSQL's `uuid` (the same 16 bytes, in order).
    var uuid: UUID {
        var be = (high.bigEndian, low.bigEndian)
        return withUnsafeBytes(of: &be) { UUID(uuid: $0.loadUnaligned(as: uuid_t.self)) }
    }

    init(uuid: UUID) {
        var value = uuid.uuid
        self = withUnsafeBytes(of: &value) { EventID(bytes: $0) }
    }
}

/// The state of one ``PostgresEventLog/bounded(_:_:)`` call: whichever of the work and the
/// timer finishes first answers; the other finds nothing to answer.
private final class BoundedCall<R: Sendable>: Sendable {
    let pending = Mutex<CheckedContinuation<R, any Error>?>(nil)
    private let timer = Mutex<(task: Task<Void, Never>?, finished: Bool)>((nil, false))

    func start(_ task: Task<Void, Never>) {
        let finished = timer.withLock { t in
            t.task = task
            return t.finished
        }
        if finished { task.cancel() }
    }

    func finish(with result: Result<R, any Error>) {
        let task = timer.withLock { t in
            t.finished = true
            return t.task
        }
        task?.cancel()
        pending.withLock { $0.take() }?.resume(with: result)
    }
}
