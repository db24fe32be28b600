import CLMDB

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// An error from the LMDB library, mapped from its return code in exactly one place
/// (``LMDBError/init(code:)``).
///
/// The cases a caller can act on have their own names; everything else keeps its code and
/// LMDB's own message. No case ever carries a key or a value, so descriptions are safe to log.
public enum LMDBError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The memory map is full (`MDB_MAP_FULL`). ``LMDBEnvironment/write(_:)`` answers it by
    /// growing the map and retrying; callers only see it past the configured maximum.
    case mapFull
    /// Another process grew the map (`MDB_MAP_RESIZED`); handled inside the wrapper.
    case mapResized
    /// The filesystem is out of space (`ENOSPC`, `EDQUOT`). Nothing of the transaction was kept.
    case diskFull
    /// The file is damaged (`MDB_CORRUPTED`, `MDB_PAGE_NOTFOUND`, `MDB_BAD_TXN`).
    case corrupted(code: Int32)
    /// The file is not an LMDB environment, or one of another LMDB version.
    case invalidFile(code: Int32)
    /// Every reader slot is taken (`MDB_READERS_FULL`).
    case readersFull
    /// A put with `MDB_APPEND` or `MDB_NOOVERWRITE` met an existing key (`MDB_KEYEXIST`).
    case keyExists
    /// The named database does not exist and was not created (`MDB_NOTFOUND` at open).
    case databaseNotFound(name: String)
    /// A key or value is larger than LMDB accepts (`MDB_BAD_VALSIZE`).
    case badValueSize
    /// Writing to an environment or transaction opened read-only (`EACCES`).
    case readOnly
    /// The environment path does not exist (`ENOENT`).
    case noSuchPath(String)
    /// This process already has an environment open at this path: LMDB allows one per process.
    case alreadyOpenInProcess(path: String)
    /// The environment was closed before this call.
    case closed
    /// Any other code, with LMDB's or the system's message for it.
    case other(code: Int32, message: String)

    /// Maps an LMDB or errno return code to the case a caller can act on.
    public init(code: Int32) {
        switch code {
        case MDB_MAP_FULL: self = .mapFull
        case MDB_MAP_RESIZED: self = .mapResized
        case ENOSPC, EDQUOT: self = .diskFull
        case MDB_CORRUPTED, MDB_PAGE_NOTFOUND, MDB_BAD_TXN, MDB_PANIC: self = .corrupted(code: code)
        case MDB_INVALID, MDB_VERSION_MISMATCH: self = .invalidFile(code: code)
        case MDB_READERS_FULL: self = .readersFull
        case MDB_KEYEXIST: self = .keyExists
        case MDB_BAD_VALSIZE: self = .badValueSize
        case EACCES, EROFS: self = .readOnly
        default: self = .other(code: code, message: LMDBError.message(for: code))
        }
    }

    static func message(for code: Int32) -> String {
        guard let text = mdb_strerror(code) else { return "error \(code)" }
        return String(cString: text)
    }

    public var description: String {
        switch self {
        case .mapFull: "LMDB map is full"
        case .mapResized: "LMDB map was resized by another process"
        case .diskFull: "no space left on the device holding the data directory"
        case .corrupted(let code): "LMDB data is corrupted (\(LMDBError.message(for: code)))"
        case .invalidFile(let code):
            "not a usable LMDB environment (\(LMDBError.message(for: code)))"
        case .readersFull: "all LMDB reader slots are in use"
        case .keyExists: "key already exists"
        case .databaseNotFound(let name): "LMDB database '\(name)' does not exist"
        case .badValueSize: "key or value size not accepted by LMDB"
        case .readOnly: "the environment is read-only"
        case .noSuchPath(let path): "no such directory: \(path)"
        case .alreadyOpenInProcess(let path):
            "an LMDB environment is already open at \(path) in this process"
        case .closed: "the LMDB environment is closed"
        case .other(let code, let message): "LMDB error \(code): \(message)"
        }
    }

    /// Throws the mapped error unless `code` is `MDB_SUCCESS`.
    @usableFromInline @inline(__always)
    static func check(_ code: Int32) throws(LMDBError) {
        if code != MDB_SUCCESS { throw LMDBError(code: code) }
    }
}
