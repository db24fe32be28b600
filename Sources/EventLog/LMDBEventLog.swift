import Foundation
import LMDB
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The durable event log: one LMDB environment holding the records, the stream heads and
/// links, the idempotency index, the format marker and the checkpoints.
///
/// Named databases (their layouts are in `eventlog/FORMAT.md`):
/// - `records`: big-endian `UInt64` sequence → record bytes (``RecordCodec``), written with
///   `MDB_APPEND`;
/// - `stream-heads`: stream id → big-endian version ‖ big-endian sequence of its newest record;
/// - `stream-links`: big-endian sequence → big-endian sequence of the stream's previous record
///   (0 for its first), written with `MDB_APPEND`;
/// - `event-ids`: event id → big-endian sequence ‖ big-endian stream version;
/// - `meta`: `format` → little-endian `UInt32` format version;
/// - `checkpoints`: projection name → ``Checkpoint`` bytes;
/// - `checkpoint-parts`: u8 name length ‖ name ‖ part key → the part's bytes (absent in logs
///   written before it, which a read-only open reads as having no parts);
/// - `tree-nodes`: big-endian sequence → the Merkle tree nodes completed by that record
///   (``MerkleTreeNodes``), written with `MDB_APPEND`; absent in logs written before it, which
///   a read-only open reads as an empty tree.
///
/// A writable log takes an exclusive lock file in its directory (a second writer process is
/// refused) and runs one writer thread that owns every write transaction and commits
/// concurrent appends together (group commit, see ``GroupCommitWriter``). Reads use their own
/// snapshot transactions and never wait for the writer. A read-only log (for the offline
/// tools) can be opened while a server writes.
public final class LMDBEventLog: EventStore, @unchecked Sendable {
    /// Whether a returned append is on disk.
    public enum Durability: String, Sendable {
        /// Every commit is flushed (`fdatasync`) before any append in it returns. The default.
        case durable
        /// `MDB_NOSYNC`: commits are not flushed; a crash or power loss can lose the newest
        /// appends even after they returned (never corrupt the older ones). Benchmarks and
        /// throw-away logs only.
        case unsafeNoSync = "unsafe-no-sync"
    }

    /// How to open a log.
    public struct Configuration: Sendable {
        /// The data directory (created when writable).
        public var directory: String
        public var durability: Durability = .durable
        /// Map size at open; grows by doubling when full.
        public var initialMapSize = 64 << 20
        /// The map never grows past this; beyond it appends fail with `mapFullBeyondMaximum`.
        public var maximumMapSize = 1 << 40
        /// Source of the recorded time of each event.
        public var clock: any LogClock = SystemLogClock()
        /// Most append requests gathered into one commit.
        public var maximumRequestsPerCommit = 4096
        /// Whether each commit writes its records' Merkle tree nodes (the default). `false`
        /// exists only to measure what that costs (`tallystick-bench tree`): the tree then
        /// falls behind and is caught up by ``EventStore/extendMerkleTree(through:)``.
        public var maintainsMerkleTree = true

        public init(directory: String) { self.directory = directory }
    }

    /// The format version in the `meta` database that this build writes and reads. A writable
    /// open upgrades a version-1 log in place (see ``upgradeFromFormat1(env:databases:)``).
    public static let storeFormatVersion: UInt32 = 2

    struct Databases {
        let records: LMDBDatabase
        let streamHeads: LMDBDatabase
        let streamLinks: LMDBDatabase
        let eventIDs: LMDBDatabase
        let meta: LMDBDatabase
        let checkpoints: LMDBDatabase
        /// `nil` only in a read-only open of a log that has none yet.
        let checkpointParts: LMDBDatabase?
        /// `nil` only in a read-only open of a log that has none yet.
        let treeNodes: LMDBDatabase?
    }

    let env: LMDBEnvironment
    let databases: Databases
    public let configuration: Configuration
    public let isReadOnly: Bool
    /// Set by a writable open when group or others can read or enter the data directory: one
    /// line naming it, its mode and the fix (``DataDirectory/prepare(_:)``); the caller shows
    /// it (the server and the tools print it to standard error). Always `nil` when read-only.
    public let directoryWarning: String?
    let writer: GroupCommitWriter?
    let hub = FollowerHub()
    private let lockDescriptor: Int32
    private let released = Mutex(false)

    /// Opens the log for writing, creating it when the directory is new or empty: the
    /// directory `0700`, every file `0600` (``DataDirectory``).
    /// - Throws: ``EventLogError``: `unsafeDirectory` (group or others can write the
    ///   directory), `lockedByAnotherProcess`, `unsupportedFormat`,
    ///   `corruptedRecord` (the newest record does not check), `storage`.
    public static func open(_ configuration: Configuration) throws -> LMDBEventLog {
        try LMDBEventLog(configuration: configuration, readOnly: false)
    }

    /// Opens an existing log read-only; safe while a server writes to it.
    /// - Throws: ``EventLogError/storage(_:)`` when there is no log there, `unsupportedFormat`.
    public static func openReadOnly(directory: String) throws -> LMDBEventLog {
        try LMDBEventLog(configuration: Configuration(directory: directory), readOnly: true)
    }

    private init(configuration: Configuration, readOnly: Bool) throws {
        self.configuration = configuration
        self.isReadOnly = readOnly
        let dir = configuration.directory
        if readOnly {
            guard FileManager.default.fileExists(atPath: dir + "/data.mdb") else {
                throw EventLogError.storage("no event log at \(dir)")
            }
            lockDescriptor = -1
            directoryWarning = nil
        } else {
            directoryWarning = try DataDirectory.prepare(dir)
            lockDescriptor = try LMDBEventLog.takeWriterLock(directory: dir)
        }
        var options = LMDBEnvironment.Options()
        options.readOnly = readOnly
        options.initialMapSize = configuration.initialMapSize
        options.maximumMapSize = max(configuration.maximumMapSize, configuration.initialMapSize)
        options.flushOnCommit = configuration.durability == .durable
        do {
            if !readOnly, access(dir + "/data.mdb", F_OK) != 0 {
                try LMDBEventLog.createWhole(directory: dir, options: options)
            }
            env = try LMDBEnvironment(path: dir, options: options)
            let format: UInt32
            (databases, format) = try LMDBEventLog.openDatabases(env: env, writable: !readOnly)
            if format == 1 {
                try LMDBEventLog.upgradeFromFormat1(env: env, databases: databases)
            }
            // A writer must not start on a log whose newest record does not check; a reader
            // (the offline tools) opens it anyway, to report what is wrong.
            if readOnly {
                writer = nil
            } else {
                let head = try LMDBEventLog.readHead(env: env, records: databases.records)
                writer = GroupCommitWriter(
                    env: env, databases: databases, head: head, configuration: configuration,
                    hub: hub)
            }
        } catch {
            if lockDescriptor >= 0 {
                LMDBEventLog.releaseWriterLock(directory: dir, descriptor: lockDescriptor)
            }
            throw EventLogError.from(error, maximumMapSize: configuration.maximumMapSize)
        }
    }

    deinit {
        writer?.stopAndWait()
        release()
    }

    /// Ends followers, closes the environment and drops the writer lock; once only.
    private func release() {
        guard
            released.withLock({ done in
                defer { done = true }; return !done
            })
        else { return }
        hub.close()
        env.close()
        if lockDescriptor >= 0 {
            LMDBEventLog.releaseWriterLock(
                directory: configuration.directory, descriptor: lockDescriptor)
        }
    }

    /// Directories this process holds the writer lock of (POSIX record locks cannot tell two
    /// holders in one process apart).
    private static let lockedHere = Mutex(Set<String>())

    /// One writer per log: within this process by ``lockedHere``, across processes by a POSIX
    /// record lock (`fcntl(F_SETLK)`) on `writer.lock`.
    ///
    /// Not `flock`: a child process spawned by this one (a 2FA helper, a test's child) shares
    /// the parent's open file descriptions until it execs, so an `flock` lock could outlive its
    /// close and refuse a reopen. Record locks belong to the process and are never inherited.
    private static func takeWriterLock(directory: String) throws -> Int32 {
        let path = directory + "/writer.lock"
        let key = URL(fileURLWithPath: directory).standardizedFileURL.resolvingSymlinksInPath().path
        guard lockedHere.withLock({ $0.insert(key).inserted }) else {
            throw EventLogError.lockedByAnotherProcess(path: directory)
        }
        let existed = access(path, F_OK) == 0
        let fd = Foundation.open(path, O_CREAT | O_RDWR | O_CLOEXEC, LMDBEnvironment.fileMode)
        guard fd >= 0 else {
            _ = lockedHere.withLock { $0.remove(key) }
            throw EventLogError.storage("cannot open \(path): \(String(cString: strerror(errno)))")
        }
        if !existed { fchmod(fd, LMDBEnvironment.fileMode) }
        var lock = Glibc.flock()
        lock.l_type = Int16(F_WRLCK)
        lock.l_whence = Int16(SEEK_SET)
        if fcntl(fd, F_SETLK, &lock) != 0 {
            Foundation.close(fd)
            _ = lockedHere.withLock { $0.remove(key) }
            throw EventLogError.lockedByAnotherProcess(path: directory)
        }
        return fd
    }

    private static func releaseWriterLock(directory: String, descriptor: Int32) {
        let key = URL(fileURLWithPath: directory).standardizedFileURL.resolvingSymlinksInPath().path
        Foundation.close(descriptor)
        _ = lockedHere.withLock { $0.remove(key) }
    }

    static let formatKey = Array("format".utf8)

    /// Opens (creating them when writable) the log's databases and checks its format.
    /// Returns them with the format version found (1: a writable open must upgrade).
    static func openDatabases(env: LMDBEnvironment, writable: Bool) throws -> (Databases, UInt32) {
        let records = try env.openDatabase("records")
        let meta = try env.openDatabase("meta")
        // The format is checked before the other databases are opened: a read-only open
        // of an older log must say which format it found, not that a database is missing.
        let format = try LMDBEventLog.checkFormat(
            env: env, records: records, meta: meta, writable: writable)
        let databases = Databases(
            records: records,
            streamHeads: try env.openDatabase("stream-heads"),
            streamLinks: try env.openDatabase("stream-links"),
            eventIDs: try env.openDatabase("event-ids"),
            meta: meta,
            checkpoints: try env.openDatabase("checkpoints"),
            checkpointParts: try LMDBEventLog.openIfPresent("checkpoint-parts", env: env),
            treeNodes: try LMDBEventLog.openIfPresent("tree-nodes", env: env))
        return (databases, format)
    }

    /// A database added after the first format: created by a writable open, `nil` in a
    /// read-only open of a log written before it.
    private static func openIfPresent(_ name: String, env: LMDBEnvironment) throws
        -> LMDBDatabase?
    {
        do {
            return try env.openDatabase(name)
        } catch LMDBError.databaseNotFound {
            return nil
        }
    }

    static func formatBytes(_ version: UInt32) -> [UInt8] {
        var v = version.littleEndian
        return withUnsafeBytes(of: &v) { Array($0) }
    }

    /// Checks the stored format version, writing the current one into a new log. Returns the
    /// version found: ``storeFormatVersion``, or 1 when a writable open must upgrade the log.
    /// - Throws: ``EventLogError/unsupportedFormat(found:supported:)`` for any other version,
    ///   for version 1 when read-only, and for records without a format marker.
    private static func checkFormat(
        env: LMDBEnvironment, records: LMDBDatabase, meta: LMDBDatabase, writable: Bool
    ) throws -> UInt32 {
        let (stored, isEmpty) = try env.retryingResize {
            try env.read { txn in
                (try txn.getBytes(meta, key: formatKey), try txn.count(records) == 0)
            }
        }
        if let stored {
            let found =
                stored.count == 4
                ? stored.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self)) }
                : 0
            guard found == storeFormatVersion || (found == 1 && writable) else {
                throw EventLogError.unsupportedFormat(found: found, supported: storeFormatVersion)
            }
            return found
        }
        guard isEmpty else {
            throw EventLogError.unsupportedFormat(found: 0, supported: storeFormatVersion)
        }
        if writable {
            try env.write { txn in
                try txn.put(meta, key: formatKey, value: formatBytes(storeFormatVersion))
            }
        }
        return storeFormatVersion
    }

    /// Reads the newest record and checks its own hash.
    static func readHead(env: LMDBEnvironment, records: LMDBDatabase) throws -> LogHead {
        try env.retryingResize {
            try env.read { txn in
                try txn.withCursor(records) { cursor in
                    guard let last = try cursor.last() else { return LogHead.empty }
                    let seq = SequenceKey.decode(last.key)
                    let view: RecordView
                    do { view = try RecordCodec.view(last.value) } catch let error
                        as RecordCodec.DecodingError
                    {
                        throw EventLogError.corruptedRecord(sequence: seq, reason: error.reason)
                    }
                    guard view.sequence == seq,
                        RecordCodec.chainHash(
                            previous: view.previousHash, canonical: view.canonical) == view.hash
                    else {
                        throw EventLogError.corruptedRecord(
                            sequence: seq, reason: "newest record does not check")
                    }
                    return LogHead(sequence: seq, hash: view.hash, recordedAt: view.recordedAt)
                }
            }
        }
    }

    // MARK: EventStore

    public func submit(to stream: String, expecting: ExpectedVersion, events: [ProposedEvent])
        -> PendingAppend
    {
        guard let writer else { return .finished(.failure(.readOnly)) }
        return writer.submit(stream: stream, expecting: expecting, events: events)
    }

    public func head() throws -> LogHead {
        if let writer { return writer.publishedHead }
        return try LMDBEventLog.readHead(env: env, records: databases.records)
    }

    public func read(from sequence: UInt64, limit: Int) throws -> [EventRecord] {
        var out = [EventRecord]()
        guard limit > 0 else { return out }
        try snapshot { txn in
            try txn.withCursor(databases.records) { cursor in
                var entry = try SequenceKey.withKey(max(sequence, 1)) {
                    try cursor.seek(atOrAfter: $0)
                }
                while let e = entry, out.count < limit {
                    out.append(
                        try LMDBEventLog.decode(e.value, at: SequenceKey.decode(e.key)).copy())
                    entry = try cursor.next()
                }
            }
        }
        return out
    }

    /// See ``EventStore/readStream(_:from:)``. Follows the stream's links back from its head
    /// (one lookup per event read), then reads the records in order; each must carry the
    /// stream and version its link promised.
    public func readStream(_ stream: String, from version: UInt64) throws -> [EventRecord] {
        var out = [EventRecord]()
        try snapshot { txn in
            let head = try StreamHead.stored(stream, txn: txn, heads: databases.streamHeads)
            let first = max(version, 1)
            guard head.version >= first else { return }
            // Links must lead strictly backwards, so a damaged one ends the walk with an error
            // instead of looping or allocating by a damaged version number.
            var sequences = [UInt64]()
            var sequence = head.sequence
            var v = head.version
            while true {
                sequences.append(sequence)
                if v == first { break }
                guard
                    let link = try SequenceKey.withKey(
                        sequence, { try txn.get(databases.streamLinks, key: $0) }),
                    link.count == 8
                else {
                    throw EventLogError.corruptedRecord(
                        sequence: sequence, reason: "stream link missing")
                }
                let previous = SequenceKey.decode(link)
                guard previous > 0, previous < sequence else {
                    throw EventLogError.corruptedRecord(
                        sequence: sequence, reason: "stream link does not lead back")
                }
                sequence = previous
                v -= 1
            }
            sequences.reverse()
            out.reserveCapacity(sequences.count)
            for (offset, seq) in sequences.enumerated() {
                guard
                    let bytes = try SequenceKey.withKey(
                        seq, { try txn.get(databases.records, key: $0) })
                else {
                    throw EventLogError.corruptedRecord(
                        sequence: seq, reason: "stream index names a missing record")
                }
                let view = try LMDBEventLog.decode(bytes, at: seq)
                guard view.streamVersion == first + UInt64(offset),
                    view.stream.elementsEqual(stream.utf8)
                else {
                    throw EventLogError.corruptedRecord(
                        sequence: seq,
                        reason:
                            "stream index names a record of another stream or version for '\(stream)' version \(first + UInt64(offset))"
                    )
                }
                out.append(view.copy())
            }
        }
        return out
    }

    public func streamVersion(_ stream: String) throws -> UInt64 {
        try snapshot { txn in
            try StreamHead.stored(stream, txn: txn, heads: databases.streamHeads).version
        }
    }

    /// See ``EventStore/scan(from:through:verifyingChain:_:)``. Long verifying scans check
    /// hashes on the other cores (``ParallelHashCheck``) while this thread decodes, checks links
    /// and calls `body`; `body` may then have seen records after the first bad one before the
    /// error is thrown, so whatever it built must be discarded on error.
    @discardableResult
    public func scan(
        from sequence: UInt64, through: UInt64?, verifyingChain: Bool,
        _ body: (RecordView) throws -> Void
    ) throws -> LogHead {
        try snapshot { txn in
            try scan(
                txn: txn, from: sequence, through: through, verifyingChain: verifyingChain, body)
        }
    }

    /// ``scan(from:through:verifyingChain:_:)`` inside a transaction the caller holds.
    @discardableResult
    func scan(
        txn: borrowing LMDBTransaction, from sequence: UInt64, through: UInt64?,
        verifyingChain: Bool,
        _ body: (RecordView) throws -> Void
    ) throws -> LogHead {
        let start = max(sequence, 1)
        var previous = ChainHash.zero
        if start > 1 {
            guard
                let bytes = try SequenceKey.withKey(
                    start - 1, { try txn.get(databases.records, key: $0) })
            else {
                throw EventLogError.corruptedRecord(sequence: start - 1, reason: "record missing")
            }
            previous = try LMDBEventLog.decode(bytes, at: start - 1).hash
        }
        let newest =
            try txn.withCursor(databases.records) {
                try $0.last().map { SequenceKey.decode($0.key) }
            } ?? 0
        let end = min(through ?? .max, newest)
        let helpers = ParallelHashCheck.defaultHelpers
        let hasher =
            verifyingChain && end >= start && end - start >= 8_192 && helpers > 0
            ? ParallelHashCheck(helpers: helpers) : nil
        var chunk = ParallelHashCheck.Chunk()
        var last = LogHead(sequence: start - 1, hash: previous, recordedAt: 0)
        var current = start
        var failure: (any Error)?
        do {
            try txn.withCursor(databases.records) { cursor in
                var entry = try SequenceKey.withKey(start) { try cursor.seek(atOrAfter: $0) }
                while let e = entry, current <= end {
                    let key = SequenceKey.decode(e.key)
                    guard key == current else {
                        throw EventLogError.corruptedRecord(
                            sequence: current,
                            reason: "record missing (next stored sequence is \(key))")
                    }
                    let view = try LMDBEventLog.decode(e.value, at: key)
                    if verifyingChain {
                        if let hasher {
                            guard view.previousHash == previous else {
                                throw EventLogError.corruptedRecord(
                                    sequence: key, reason: RecordCodec.brokenLink)
                            }
                            chunk.records.append((key, e.value))
                            if chunk.records.count == ParallelHashCheck.chunkSize {
                                hasher.submit(chunk)
                                chunk = ParallelHashCheck.Chunk()
                                chunk.records.reserveCapacity(ParallelHashCheck.chunkSize)
                                hasher.helpWithOne()
                            }
                        } else if let why = RecordCodec.verifyHash(view, previous: previous) {
                            throw EventLogError.corruptedRecord(sequence: key, reason: why)
                        }
                    }
                    try body(view)
                    previous = view.hash
                    last = LogHead(sequence: key, hash: view.hash, recordedAt: view.recordedAt)
                    current += 1
                    entry = try cursor.next()
                }
            }
        } catch {
            failure = error
        }
        if let hasher {
            if !chunk.records.isEmpty { hasher.submit(chunk) }
            if let bad = hasher.finish(), failure == nil || bad.sequence <= current {
                throw EventLogError.corruptedRecord(sequence: bad.sequence, reason: bad.reason)
            }
        }
        if let failure { throw failure }
        return last
    }

    public func follow(from sequence: UInt64) -> AsyncThrowingStream<EventRecord, any Error> {
        hub.followStream(from: sequence) { [self] next in try read(from: next, limit: 1024) }
    }

    public func saveCheckpoint(_ checkpoint: Checkpoint) async throws {
        guard let writer else { throw EventLogError.readOnly }
        try await writer.saveCheckpoint(checkpoint)
    }

    public func saveCheckpointParts(name: String, parts: [(key: [UInt8], bytes: [UInt8])])
        async throws
    {
        guard let writer else { throw EventLogError.readOnly }
        if let why = Checkpoint.refusal(name: name, partKeys: parts.map(\.key)) {
            throw EventLogError.invalidEvent(why)
        }
        try await writer.saveCheckpointParts(name: name, parts: parts)
    }

    public func checkpoint(named name: String) throws -> CheckpointLookup {
        try snapshot { txn in
            guard let bytes = try txn.getBytes(databases.checkpoints, key: Array(name.utf8)) else {
                return .none
            }
            let decoded = bytes.withUnsafeBytes { Checkpoint(name: name, encoded: $0) }
            guard let cp = decoded else {
                return .rejected(reason: "checkpoint '\(name)' does not decode")
            }
            return try LMDBEventLog.match(cp, txn: txn, databases: databases)
        }
    }

    public func withCheckpointParts<R>(
        of checkpoint: Checkpoint, _ body: ([UnsafeRawBufferPointer]) throws -> R
    ) throws -> R {
        try snapshot { txn in
            var buffers = [UnsafeRawBufferPointer]()
            buffers.reserveCapacity(checkpoint.parts.count)
            for (position, key) in checkpoint.parts.enumerated() {
                guard let db = databases.checkpointParts,
                    let bytes = try Checkpoint.storageKey(name: checkpoint.name, part: key)
                        .withUnsafeBytes({ try txn.get(db, key: $0) })
                else { throw checkpoint.missingPart(at: position) }
                buffers.append(bytes)
            }
            return try body(buffers)
        }
    }

    public func merkleTreeSize() throws -> UInt64 {
        guard let db = databases.treeNodes else { return 0 }
        return try snapshot { txn in try LMDBEventLog.merkleTreeSize(txn: txn, db: db) }
    }

    static func merkleTreeSize(txn: borrowing LMDBTransaction, db: LMDBDatabase) throws -> UInt64 {
        try txn.withCursor(db) { try $0.last().map { SequenceKey.decode($0.key) } } ?? 0
    }

    public func merkleNodes(_ nodes: [MerkleNodeID]) throws -> [MerkleNodeID: MerkleHash] {
        var found = [MerkleNodeID: MerkleHash](minimumCapacity: nodes.count)
        guard !nodes.isEmpty else { return found }
        try snapshot { txn in
            for id in nodes {
                guard let db = databases.treeNodes,
                    let value = try SequenceKey.withKey(
                        id.lastSequence, { try txn.get(db, key: $0) }),
                    let hash = MerkleTreeNodes.hash(level: id.level, in: value)
                else {
                    throw EventLogError.corruptedRecord(
                        sequence: id.lastSequence, reason: "Merkle tree \(id) is not stored")
                }
                found[id] = hash
            }
        }
        return found
    }

    public func storeMerkleNodes(_ nodes: MerkleTreeNodes) async throws {
        guard let writer else { throw EventLogError.readOnly }
        try await writer.storeMerkleNodes(nodes)
    }

    /// Every stored checkpoint with what matching it against the log found.
    public func allCheckpoints() throws -> [(name: String, lookup: CheckpointLookup)] {
        try snapshot { txn in try checkpointNames(txn) }.map { ($0, try checkpoint(named: $0)) }
    }

    /// The names of the stored checkpoints, in key order.
    func checkpointNames(_ txn: borrowing LMDBTransaction) throws -> [String] {
        var names = [String]()
        try txn.withCursor(databases.checkpoints) { cursor in
            var entry = try cursor.first()
            while let e = entry {
                names.append(String(decoding: e.key, as: UTF8.self))
                entry = try cursor.next()
            }
        }
        return names
    }

    /// Commits the appends already queued, then releases the log; later calls throw `closed`.
    public func close() async {
        if let writer { await writer.stop() }
        release()
    }

    /// Writes a consistent copy of the log (one snapshot; compacted) into the existing empty
    /// directory `path`. Safe while a writer appends: the copy holds what had committed when it
    /// started. - Throws: ``EventLogError/storage(_:)``.
    public func copy(to path: String) throws {
        do {
            try env.copy(to: path, compact: true)
        } catch {
            throw EventLogError.from(error, maximumMapSize: configuration.maximumMapSize)
        }
    }

    /// Bytes of the data file in use (last used page × page size).
    public var storedBytes: Int { env.usedBytes() }

    /// Counters of the group-commit writer since open (zero for a read-only log).
    public var writerStatistics: GroupCommitStatistics {
        writer?.statistics.withLock { $0 } ?? GroupCommitStatistics()
    }

    // MARK: Helpers

    /// Runs `body` in a read transaction, mapping storage errors.
    func snapshot<R>(_ body: (borrowing LMDBTransaction) throws -> R) throws -> R {
        do {
            return try env.retryingResize { try env.read(body) }
        } catch {
            throw EventLogError.from(error, maximumMapSize: configuration.maximumMapSize)
        }
    }

    static func decode(_ bytes: UnsafeRawBufferPointer, at sequence: UInt64) throws -> RecordView {
        let view: RecordView
        do { view = try RecordCodec.view(bytes) } catch {
            throw EventLogError.corruptedRecord(sequence: sequence, reason: error.reason)
        }
        guard view.sequence == sequence else {
            throw EventLogError.corruptedRecord(
                sequence: sequence, reason: "record says it is sequence \(view.sequence)")
        }
        return view
    }

    static func match(_ cp: Checkpoint, txn: borrowing LMDBTransaction, databases: Databases)
        throws
        -> CheckpointLookup
    {
        guard cp.sequence > 0,
            let bytes = try SequenceKey.withKey(
                cp.sequence, { try txn.get(databases.records, key: $0) })
        else { return .judging(cp, recordHash: nil) }
        var missing: Int?
        for (position, key) in cp.parts.enumerated() {
            guard let db = databases.checkpointParts,
                try Checkpoint.storageKey(name: cp.name, part: key)
                    .withUnsafeBytes({ try txn.get(db, key: $0) }) != nil
            else {
                missing = position
                break
            }
        }
        return .judging(
            cp, recordHash: try decode(bytes, at: cp.sequence).hash, missingPart: missing)
    }
}

/// Counters of the group-commit writer, for metrics and benchmarks.
public struct GroupCommitStatistics: Sendable, Equatable {
    /// Write transactions committed.
    public var commits = 0
    /// Events written.
    public var events = 0
    /// Requests (appends, checkpoint saves and Merkle tree nodes) answered by those commits.
    public var requests = 0
    /// Most requests in one commit.
    public var largestBatch = 0
    /// Time spent staging and committing (including the flush), in nanoseconds.
    public var commitNanoseconds: UInt64 = 0
    /// The part of ``commitNanoseconds`` spent before LMDB's commit (the writes and flushes)
    /// began: staging, and any staging redone after the map grew.
    public var stagingNanoseconds: UInt64 = 0
}

/// Big-endian `UInt64` keys, so LMDB's byte order is numeric order.
enum SequenceKey {
    @inline(__always)
    static func withKey<R>(_ value: UInt64, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows
        -> R
    {
        var be = value.bigEndian
        return try withUnsafeBytes(of: &be) { try body($0) }
    }

    static func bytes(_ value: UInt64) -> [UInt8] { withKey(value) { Array($0) } }

    @inline(__always)
    static func decode(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        guard bytes.count >= 8 else { return 0 }
        return UInt64(bigEndian: bytes.loadUnaligned(as: UInt64.self))
    }
}
