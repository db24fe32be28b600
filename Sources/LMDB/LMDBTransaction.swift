import CLMDB

/// A live LMDB transaction, read-only or read-write.
///
/// It exists only inside the synchronous closure given to ``LMDBEnvironment/read(_:)`` or
/// ``LMDBEnvironment/write(_:)``: it is non-copyable and not `Sendable`, so it can neither
/// escape that closure nor cross an `await` (a closure that is not `async` cannot contain one).
/// Buffers it returns point into the memory map and are valid only until the closure returns.
public struct LMDBTransaction: ~Copyable {
    @usableFromInline let handle: OpaquePointer
    /// `true` inside ``LMDBEnvironment/read(_:)``; puts and deletes then fail with
    /// ``LMDBError/readOnly``.
    public let isReadOnly: Bool

    init(handle: OpaquePointer, isReadOnly: Bool) {
        self.handle = handle
        self.isReadOnly = isReadOnly
    }

    /// The value stored under `key`, or `nil` when there is none.
    ///
    /// The buffer points into the map: copy what must outlive the transaction.
    /// - Throws: ``LMDBError`` for a damaged file or an invalid key size.
    @inlinable
    public func get(_ db: LMDBDatabase, key: UnsafeRawBufferPointer) throws(LMDBError)
        -> UnsafeRawBufferPointer?
    {
        var k = MDB_val(
            mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        var v = MDB_val()
        let rc = mdb_get(handle, db.dbi, &k, &v)
        if rc == MDB_NOTFOUND { return nil }
        try LMDBError.check(rc)
        return UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size)
    }

    /// Copies the value stored under `key` out of the map.
    public func getBytes(_ db: LMDBDatabase, key: [UInt8]) throws(LMDBError) -> [UInt8]? {
        var k = MDB_val(mv_size: key.count, mv_data: nil)
        var v = MDB_val()
        let rc: Int32 = key.withUnsafeBytes { raw in
            k.mv_data = UnsafeMutableRawPointer(mutating: raw.baseAddress)
            return mdb_get(handle, db.dbi, &k, &v)
        }
        if rc == MDB_NOTFOUND { return nil }
        try LMDBError.check(rc)
        return Array(UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size))
    }

    /// Stores `value` under `key`.
    /// - Throws: ``LMDBError/mapFull`` (the environment's `write` grows the map and reruns the
    ///   closure), ``LMDBError/keyExists`` with `.append` or `.noOverwrite`,
    ///   ``LMDBError/readOnly``, ``LMDBError/badValueSize``.
    @inlinable
    public func put(
        _ db: LMDBDatabase, key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer,
        flags: LMDBPutFlags = []
    ) throws(LMDBError) {
        var k = MDB_val(
            mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        var v = MDB_val(
            mv_size: value.count, mv_data: UnsafeMutableRawPointer(mutating: value.baseAddress))
        try LMDBError.check(mdb_put(handle, db.dbi, &k, &v, flags.rawValue))
    }

    /// Reserves `count` bytes for the value of `key` (`MDB_RESERVE`) and has `fill` write them,
    /// so the value is built where it is stored instead of being copied there. `fill` must
    /// write every byte; it runs before any other change to the transaction.
    /// - Throws: as ``put(_:key:value:flags:)``.
    @inlinable
    public func put<R>(
        _ db: LMDBDatabase, key: UnsafeRawBufferPointer, reserving count: Int,
        flags: LMDBPutFlags = [], fill: (UnsafeMutableRawBufferPointer) -> R
    ) throws(LMDBError) -> R {
        var k = MDB_val(
            mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        var v = MDB_val(mv_size: count, mv_data: nil)
        try LMDBError.check(
            mdb_put(handle, db.dbi, &k, &v, flags.rawValue | UInt32(MDB_RESERVE)))
        return fill(UnsafeMutableRawBufferPointer(start: v.mv_data, count: count))
    }

    /// Stores `value` under `key` (array convenience).
    public func put(_ db: LMDBDatabase, key: [UInt8], value: [UInt8], flags: LMDBPutFlags = [])
        throws(LMDBError)
    {
        let rc: Int32 = key.withUnsafeBytes { k in
            value.withUnsafeBytes { v in
                var kv = MDB_val(
                    mv_size: k.count, mv_data: UnsafeMutableRawPointer(mutating: k.baseAddress))
                var vv = MDB_val(
                    mv_size: v.count, mv_data: UnsafeMutableRawPointer(mutating: v.baseAddress))
                return mdb_put(handle, db.dbi, &kv, &vv, flags.rawValue)
            }
        }
        try LMDBError.check(rc)
    }

    /// Removes `key`; returns whether it was there.
    @discardableResult
    public func delete(_ db: LMDBDatabase, key: [UInt8]) throws(LMDBError) -> Bool {
        let rc: Int32 = key.withUnsafeBytes { k in
            var kv = MDB_val(
                mv_size: k.count, mv_data: UnsafeMutableRawPointer(mutating: k.baseAddress))
            return mdb_del(handle, db.dbi, &kv, nil)
        }
        if rc == MDB_NOTFOUND { return false }
        try LMDBError.check(rc)
        return true
    }

    /// Removes every entry of `db`, keeping the database itself.
    /// - Throws: ``LMDBError/readOnly``, other ``LMDBError``s.
    public func removeAll(_ db: LMDBDatabase) throws(LMDBError) {
        try LMDBError.check(mdb_drop(handle, db.dbi, 0))
    }

    /// Deletes `db` and its name from the environment once this transaction commits. Its
    /// handle must not be used afterwards, in this transaction or any other.
    /// - Throws: ``LMDBError/readOnly``, other ``LMDBError``s.
    public func deleteDatabase(_ db: LMDBDatabase) throws(LMDBError) {
        try LMDBError.check(mdb_drop(handle, db.dbi, 1))
    }

    /// The number of entries in `db`.
    public func count(_ db: LMDBDatabase) throws(LMDBError) -> Int {
        var stat = MDB_stat()
        try LMDBError.check(mdb_stat(handle, db.dbi, &stat))
        return stat.ms_entries
    }

    /// Runs `body` with a cursor over `db`; the cursor is closed when `body` returns.
    public func withCursor<R>(
        _ db: LMDBDatabase, _ body: (borrowing LMDBCursor) throws -> R
    ) throws -> R {
        var cursor: OpaquePointer?
        try LMDBError.check(mdb_cursor_open(handle, db.dbi, &cursor))
        defer { mdb_cursor_close(cursor) }
        return try body(LMDBCursor(handle: cursor!))
    }
}

@available(*, unavailable)
extension LMDBTransaction: Sendable {}
