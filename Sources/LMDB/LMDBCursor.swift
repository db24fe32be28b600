import CLMDB

/// A position in one database within one transaction; see ``LMDBTransaction/withCursor(_:_:)``.
///
/// Every move returns the key and value there, or `nil` when there is none. The buffers point
/// into the map and are valid until the transaction ends.
public struct LMDBCursor: ~Copyable {
    @usableFromInline let handle: OpaquePointer

    init(handle: OpaquePointer) { self.handle = handle }

    public typealias Entry = (key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer)

    @inlinable
    func move(_ op: MDB_cursor_op, key: UnsafeRawBufferPointer? = nil) throws(LMDBError) -> Entry? {
        var k = MDB_val(
            mv_size: key?.count ?? 0, mv_data: UnsafeMutableRawPointer(mutating: key?.baseAddress))
        var v = MDB_val()
        let rc = mdb_cursor_get(handle, &k, &v, op)
        if rc == MDB_NOTFOUND { return nil }
        try LMDBError.check(rc)
        return (
            UnsafeRawBufferPointer(start: k.mv_data, count: k.mv_size),
            UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size)
        )
    }

    /// The first entry.
    @inlinable public func first() throws(LMDBError) -> Entry? { try move(MDB_FIRST) }
    /// The last entry.
    @inlinable public func last() throws(LMDBError) -> Entry? { try move(MDB_LAST) }
    /// The entry after the current one.
    @inlinable public func next() throws(LMDBError) -> Entry? { try move(MDB_NEXT) }
    /// The entry before the current one.
    @inlinable public func previous() throws(LMDBError) -> Entry? { try move(MDB_PREV) }
    /// The first entry whose key is greater than or equal to `key`.
    @inlinable public func seek(atOrAfter key: UnsafeRawBufferPointer) throws(LMDBError) -> Entry? {
        try move(MDB_SET_RANGE, key: key)
    }
}

@available(*, unavailable)
extension LMDBCursor: Sendable {}
