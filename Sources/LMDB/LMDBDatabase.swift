import CLMDB

/// A handle to one named database inside an ``LMDBEnvironment``.
///
/// Handles stay valid for the life of the environment and may be used from any thread and any
/// transaction once the transaction that opened them has committed (LMDB's rule, which
/// ``LMDBEnvironment/openDatabase(_:create:)`` keeps by committing at once).
public struct LMDBDatabase: Hashable, Sendable {
    @usableFromInline let dbi: MDB_dbi
    /// The name it was opened with, for error messages.
    public let name: String
}

/// Flags for ``LMDBTransaction/put(_:key:value:flags:)``.
public struct LMDBPutFlags: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// Fail with ``LMDBError/keyExists`` if the key is present (`MDB_NOOVERWRITE`).
    public static let noOverwrite = LMDBPutFlags(rawValue: UInt32(MDB_NOOVERWRITE))
    /// The key sorts after every key in the database: a fast path for sequential keys,
    /// failing with ``LMDBError/keyExists`` when the order is broken (`MDB_APPEND`).
    public static let append = LMDBPutFlags(rawValue: UInt32(MDB_APPEND))
}
