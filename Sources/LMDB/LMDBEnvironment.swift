import CLMDB
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// One LMDB environment (a directory holding `data.mdb` and `lock.mdb`).
///
/// LMDB's rules are kept here by construction:
/// - one environment per path per process (a second open of the same path throws
///   ``LMDBError/alreadyOpenInProcess(path:)``);
/// - `MDB_NOTLS`, so read transactions are not tied to threads;
/// - transactions exist only inside the synchronous closures of ``read(_:)`` and ``write(_:)``;
/// - `MDB_MAP_FULL` is answered by growing the map (doubling, up to
///   ``Options/maximumMapSize``) and running the write closure again;
/// - stale reader slots left by dead processes are cleared at open.
///
/// Growing the map needs every transaction of this process to be closed, so each transaction
/// holds a shared lock and a resize takes it exclusively (writers preferred). Nested
/// transactions on one thread are therefore not allowed: never call `read` or `write` from
/// inside another `read` or `write` closure.
public final class LMDBEnvironment: @unchecked Sendable {
    /// How to open an environment.
    public struct Options: Sendable {
        /// Open without write access; nothing is created.
        public var readOnly = false
        /// Map size at open (rounded up by LMDB to a page multiple). Grows on demand.
        public var initialMapSize = 64 << 20
        /// The map never grows past this; beyond it writes fail with ``LMDBError/mapFull``.
        public var maximumMapSize = 1 << 40
        /// Named databases the environment can hold.
        public var maxDatabases: UInt32 = 16
        /// Concurrent read transactions across all processes.
        public var maxReaders: UInt32 = 512
        /// `false` sets `MDB_NOSYNC`: commits are not flushed and a crash may lose them.
        /// Only for callers that ask for that by name.
        public var flushOnCommit = true

        public init() {}
    }

    /// The directory of the environment, as given.
    public let path: String
    public let options: Options
    private let env: OpaquePointer
    private let registryKey: String
    /// Shared by every transaction, exclusive while the map is resized.
    private let resizeLock: UnsafeMutablePointer<pthread_rwlock_t>
    private let state = Mutex(State())

    private struct State {
        var mapSize = 0
        var closed = false
    }

    private static let openPaths = Mutex(Set<String>())

    /// Mode of the files an environment creates (`data.mdb`, `lock.mdb`, copies): the owner
    /// reads and writes, nobody else (spec §10.6: the log holds password hashes and addresses).
    public static let fileMode: mode_t = 0o600
    /// Mode of the directory a writable environment creates when it is missing.
    public static let directoryMode: mode_t = 0o700

    /// Opens (creating when writable) the environment in directory `path`.
    ///
    /// A directory it creates gets ``directoryMode`` and the files it creates ``fileMode``,
    /// whatever the process's umask (a umask can only take bits away; a `chmod` after creating
    /// gives back any owner bit it took). Existing files keep their modes.
    /// - Throws: ``LMDBError/alreadyOpenInProcess(path:)``, ``LMDBError/noSuchPath(_:)`` when
    ///   read-only and missing, ``LMDBError/invalidFile(code:)`` for a foreign file, or any
    ///   other open failure.
    public init(path: String, options: Options = Options()) throws(LMDBError) {
        self.path = path
        self.options = options
        if !options.readOnly, mkdir(path, Self.directoryMode) == 0 {
            chmod(path, Self.directoryMode)
            _ = Self.flushDirectory(Self.parentDirectory(of: path))
        }
        guard let resolved = realpath(path, nil) else { throw .noSuchPath(path) }
        registryKey = String(cString: resolved)
        free(resolved)
        let key = registryKey
        let inserted = LMDBEnvironment.openPaths.withLock { $0.insert(key).inserted }
        guard inserted else { throw .alreadyOpenInProcess(path: path) }

        var handle: OpaquePointer?
        var rc = mdb_env_create(&handle)
        guard rc == MDB_SUCCESS, let handle else {
            _ = LMDBEnvironment.openPaths.withLock { $0.remove(key) }
            throw LMDBError(code: rc)
        }
        var flags = UInt32(MDB_NOTLS)
        if options.readOnly { flags |= UInt32(MDB_RDONLY) }
        if !options.flushOnCommit { flags |= UInt32(MDB_NOSYNC) }
        rc = mdb_env_set_maxdbs(handle, options.maxDatabases)
        if rc == MDB_SUCCESS { rc = mdb_env_set_maxreaders(handle, options.maxReaders) }
        if rc == MDB_SUCCESS { rc = mdb_env_set_mapsize(handle, options.initialMapSize) }
        let missing = ["data.mdb", "lock.mdb"].map { path + "/" + $0 }.filter {
            access($0, F_OK) != 0
        }
        if rc == MDB_SUCCESS { rc = mdb_env_open(handle, path, flags, Self.fileMode) }
        for created in missing where access(created, F_OK) == 0 { chmod(created, Self.fileMode) }
        if rc != MDB_SUCCESS {
            mdb_env_close(handle)
            _ = LMDBEnvironment.openPaths.withLock { $0.remove(key) }
            if rc == ENOENT { throw .noSuchPath(path) }
            throw LMDBError(code: rc)
        }
        env = handle
        var dead: Int32 = 0
        mdb_reader_check(handle, &dead)

        var info = MDB_envinfo()
        mdb_env_info(handle, &info)
        state.withLock { $0.mapSize = info.me_mapsize }

        resizeLock = .allocate(capacity: 1)
        var attributes = pthread_rwlockattr_t()
        pthread_rwlockattr_init(&attributes)
        #if canImport(Glibc)
            pthread_rwlockattr_setkind_np(
                &attributes, Int32(PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP))
        #endif
        pthread_rwlock_init(resizeLock, &attributes)
        pthread_rwlockattr_destroy(&attributes)
    }

    deinit {
        close()
        pthread_rwlock_destroy(resizeLock)
        resizeLock.deallocate()
    }

    /// Closes the environment. Later calls throw ``LMDBError/closed``. Must not race a
    /// transaction of this process (it waits for running ones to end).
    public func close() {
        pthread_rwlock_wrlock(resizeLock)
        defer { pthread_rwlock_unlock(resizeLock) }
        let wasOpen = state.withLock { s in
            defer { s.closed = true }
            return !s.closed
        }
        guard wasOpen else { return }
        mdb_env_close(env)
        let key = registryKey
        _ = LMDBEnvironment.openPaths.withLock { $0.remove(key) }
    }

    /// The current size of the memory map, in bytes.
    public var mapSize: Int { state.withLock { $0.mapSize } }

    /// Runs `body` in a read-only transaction (a snapshot: later commits are not seen).
    /// Never blocks the writer. Do not nest it inside another transaction on the same thread.
    public func read<R>(_ body: (borrowing LMDBTransaction) throws -> R) throws -> R {
        pthread_rwlock_rdlock(resizeLock)
        defer { pthread_rwlock_unlock(resizeLock) }
        let txn = try begin(readOnly: true)
        defer { mdb_txn_abort(txn) }
        return try body(LMDBTransaction(handle: txn, isReadOnly: true))
    }

    /// Runs `body` in a write transaction and commits it (flushed unless the environment was
    /// opened with ``Options/flushOnCommit`` off).
    ///
    /// When the map is full, during `body` or at commit, nothing is kept, the map grows and
    /// `body` runs again from the start: it must not change outside state before it returns.
    /// If `body` throws, the transaction is aborted and nothing is written.
    /// - Throws: what `body` throws; ``LMDBError/mapFull`` past ``Options/maximumMapSize``;
    ///   ``LMDBError/diskFull`` (also for the `EIO` of a write cut short on a full disk, see
    ///   ``isOutOfSpace()``); ``LMDBError/readOnly``; other ``LMDBError``s.
    public func write<R>(_ body: (borrowing LMDBTransaction) throws -> R) throws -> R {
        while true {
            do {
                return try committed(readOnly: false, body)
            } catch LMDBError.mapFull {
                try grow()
            } catch LMDBError.other(let code, _) where code == EIO && isOutOfSpace() {
                throw LMDBError.diskFull
            }
        }
    }

    /// Runs `body` in a transaction and commits it (aborts it when `body` throws). Committing
    /// a read-only transaction is how LMDB keeps the database handles it opened.
    private func committed<R>(readOnly: Bool, _ body: (borrowing LMDBTransaction) throws -> R)
        throws -> R
    {
        pthread_rwlock_rdlock(resizeLock)
        defer { pthread_rwlock_unlock(resizeLock) }
        let txn = try begin(readOnly: readOnly)
        let result: R
        do {
            result = try body(LMDBTransaction(handle: txn, isReadOnly: readOnly))
        } catch {
            mdb_txn_abort(txn)
            throw error
        }
        // mdb_txn_commit frees the transaction even when it fails: never abort after it.
        try LMDBError.check(mdb_txn_commit(txn))
        return result
    }

    /// Doubles the map (at most to the maximum) while no transaction of this process is open.
    private func grow() throws(LMDBError) {
        pthread_rwlock_wrlock(resizeLock)
        defer { pthread_rwlock_unlock(resizeLock) }
        let current = state.withLock { $0.mapSize }
        guard current < options.maximumMapSize else { throw .mapFull }
        let wanted = min(current * 2, options.maximumMapSize)
        try LMDBError.check(mdb_env_set_mapsize(env, wanted))
        var info = MDB_envinfo()
        mdb_env_info(env, &info)
        state.withLock { $0.mapSize = info.me_mapsize }
    }

    /// Adopts a map size another process set (`MDB_MAP_RESIZED`).
    private func adoptResize() throws(LMDBError) {
        // Called with the shared lock released by the caller's retry loop.
        pthread_rwlock_wrlock(resizeLock)
        defer { pthread_rwlock_unlock(resizeLock) }
        try LMDBError.check(mdb_env_set_mapsize(env, 0))
        var info = MDB_envinfo()
        mdb_env_info(env, &info)
        state.withLock { $0.mapSize = info.me_mapsize }
    }

    private func begin(readOnly: Bool) throws(LMDBError) -> OpaquePointer {
        if state.withLock({ $0.closed }) { throw .closed }
        var txn: OpaquePointer?
        let rc = mdb_txn_begin(env, nil, readOnly ? UInt32(MDB_RDONLY) : 0, &txn)
        if rc == MDB_MAP_RESIZED {
            // Another process grew the map. Adopting it needs the exclusive lock, which this
            // thread cannot take while it holds the shared one: report it, and let the caller
            // retry through `adoptResizeAndRetry`.
            throw .mapResized
        }
        try LMDBError.check(rc)
        return txn!
    }

    /// Opens (creating it when `create` and writable) the named database.
    /// - Throws: ``LMDBError/databaseNotFound(name:)`` when it is missing and not created.
    public func openDatabase(_ name: String, create: Bool = true) throws -> LMDBDatabase {
        let makeIt = create && !options.readOnly
        let body: (borrowing LMDBTransaction) throws -> LMDBDatabase = { txn in
            var dbi: MDB_dbi = 0
            let rc = mdb_dbi_open(txn.handle, name, makeIt ? UInt32(MDB_CREATE) : 0, &dbi)
            if rc == MDB_NOTFOUND { throw LMDBError.databaseNotFound(name: name) }
            try LMDBError.check(rc)
            return LMDBDatabase(dbi: dbi, name: name)
        }
        if options.readOnly {
            // LMDB discards handles opened in a transaction that is aborted, read-only ones
            // included; committing a read-only transaction keeps them.
            return try retryingResize { try committed(readOnly: true, body) }
        }
        return try retryingResize { try write(body) }
    }

    /// Runs `body`, adopting a map size grown by another process when LMDB reports one.
    public func retryingResize<R>(_ body: () throws -> R) throws -> R {
        while true {
            do {
                return try body()
            } catch LMDBError.mapResized {
                try adoptResize()
            }
        }
    }

    /// Flushes the data file (useful after commits made with ``Options/flushOnCommit`` off).
    public func sync() throws(LMDBError) {
        try LMDBError.check(mdb_env_sync(env, 1))
    }

    /// Writes a consistent copy of the environment to `data.mdb` in the existing directory
    /// `path` (which must not hold one), compacted (free pages dropped) when `compact` is true,
    /// and flushes it. Safe while writers run: it reads from one snapshot.
    ///
    /// The copy is written to `data.mdb.partial`, flushed, linked to `data.mdb` and the
    /// directory flushed, so a power cut leaves no `data.mdb` or the whole copy (never a part
    /// a reader would open as a log). The file is created with ``fileMode`` before any byte is
    /// written (`mdb_env_copy2` would create it `0666` less the umask), so no other user can
    /// ever read the copy.
    public func copy(to path: String, compact: Bool = true) throws(LMDBError) {
        pthread_rwlock_rdlock(resizeLock)
        defer { pthread_rwlock_unlock(resizeLock) }
        if state.withLock({ $0.closed }) { throw .closed }
        let final = path + "/data.mdb"
        let partial = final + ".partial"
        if access(final, F_OK) == 0 { throw LMDBError(code: EEXIST) }
        let fd = open(partial, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, Self.fileMode)
        guard fd >= 0 else {
            let code = errno
            if code == ENOENT { throw .noSuchPath(path) }
            throw LMDBError(code: code)
        }
        var rc = fchmod(fd, Self.fileMode) == 0 ? MDB_SUCCESS : errno
        // As mdb_env_copy2 does: the source pages are in the page cache already, so the copy
        // bypasses it (O_DIRECT, where the file system has it); the fsync below then has only
        // the metadata left to write (measured: 0.5-1.4 s for 1M events without, BENCHMARKS).
        let flags = fcntl(fd, F_GETFL)
        if flags != -1 { _ = fcntl(fd, F_SETFL, flags | clmdb_o_direct()) }
        if rc == MDB_SUCCESS { rc = mdb_env_copyfd2(env, fd, compact ? UInt32(MDB_CP_COMPACT) : 0) }
        if rc == MDB_SUCCESS, fsync(fd) != 0 { rc = errno }
        if closeDescriptor(fd) != 0, rc == MDB_SUCCESS { rc = errno }
        if rc == MDB_SUCCESS, link(partial, final) != 0 { rc = errno }
        unlink(partial)
        if rc == MDB_SUCCESS { rc = Self.flushDirectory(path) }
        try LMDBError.check(rc)
    }

    /// Size of the data file in use: the last used page times the page size.
    public func usedBytes() -> Int {
        var info = MDB_envinfo()
        var stat = MDB_stat()
        mdb_env_info(env, &info)
        mdb_env_stat(env, &stat)
        return (info.me_last_pgno + 1) * Int(stat.ms_psize)
    }
}

/// `close(2)`, named apart from ``LMDBEnvironment/close()``.
func closeDescriptor(_ descriptor: Int32) -> Int32 { close(descriptor) }
