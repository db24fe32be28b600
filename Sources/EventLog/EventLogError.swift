import LMDB

/// Everything an event-log call can fail with. Descriptions name sequences, streams and sizes,
/// never payload bytes, so they are safe to log.
public enum EventLogError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The stream was not at the expected version; nothing was written. Re-read and decide again.
    case wrongExpectedVersion(stream: String, expected: ExpectedVersion, actual: UInt64)
    /// Some but not all of the batch's ids are already in the log, or an id is already used by
    /// another stream: the batch is neither new nor a repeat. Nothing was written.
    case idempotencyConflict(id: EventID, reason: String)
    /// The batch is not acceptable as given (empty, bad type tag, stream id, size).
    case invalidEvent(String)
    /// A stored record does not decode or does not chain; the log needs an operator.
    case corruptedRecord(sequence: UInt64, reason: String)
    /// The map reached its configured maximum; raise it or move the log. Nothing was written.
    case mapFullBeyondMaximum(maximumBytes: Int)
    /// The filesystem is full; the append was not kept. Free space and retry: the log keeps
    /// working without a restart.
    case diskFull
    /// The log on disk has a format version this build does not read. A version-1 log is
    /// upgraded by opening it for writing; read-only opens refuse it until then.
    case unsupportedFormat(found: UInt32, supported: UInt32)
    /// Another writer (in this or another process) holds the log open.
    case lockedByAnotherProcess(path: String)
    /// Group or others can write the data directory (`mode`, e.g. 0o777); a writer refuses
    /// it (spec §10.6). Run `chmod 700` on it and retry.
    case unsafeDirectory(path: String, mode: UInt32)
    /// The log was closed.
    case closed
    /// The log was opened read-only.
    case readOnly
    /// The store could not be reached, or went away during the call (a database server
    /// down or restarting). Nothing was written, or, for an append whose commit was under
    /// way, the outcome is unknown: retry later with the same event ids (a commit that
    /// happened is then answered as a duplicate). The log keeps working once the store is
    /// back, without a restart.
    case unavailable(String)
    /// Any other storage failure.
    case storage(String)

    /// Maps a storage error in one place.
    static func from(_ error: any Error, maximumMapSize: Int) -> EventLogError {
        if let e = error as? EventLogError { return e }
        guard let e = error as? LMDBError else { return .storage(String(describing: error)) }
        switch e {
        case .mapFull: return .mapFullBeyondMaximum(maximumBytes: maximumMapSize)
        case .diskFull: return .diskFull
        case .readOnly: return .readOnly
        case .closed: return .closed
        case .corrupted: return .corruptedRecord(sequence: 0, reason: e.description)
        default: return .storage(e.description)
        }
    }

    public var description: String {
        switch self {
        case .wrongExpectedVersion(let stream, let expected, let actual):
            "stream '\(stream)' is at version \(actual), expected \(expected)"
        case .idempotencyConflict(let id, let reason): "event id \(id): \(reason)"
        case .invalidEvent(let why): "invalid event: \(why)"
        case .corruptedRecord(let seq, let reason): "corrupted record at sequence \(seq): \(reason)"
        case .mapFullBeyondMaximum(let max):
            "the log reached its configured maximum map size of \(max) bytes"
        case .diskFull: "no space left on the device holding the log"
        case .unsupportedFormat(let found, let supported) where found == 1 && supported == 2:
            "log format version 1 must be upgraded to version 2 before it can be read: open it "
                + "once for writing with this build (which upgrades it in place), then retry"
        case .unsupportedFormat(let found, let supported):
            "log format version \(found) is not supported (this build reads version \(supported))"
        case .lockedByAnotherProcess(let path):
            "the log at \(path) is already open for writing (by this or another process)"
        case .unsafeDirectory(let path, let mode):
            "group or others can write the data directory \(path) (mode "
                + "\(DataDirectory.octal(mode))); refusing to use it; run: chmod 700 \(path)"
        case .closed: "the log is closed"
        case .readOnly: "the log is open read-only"
        case .unavailable(let what): "the store is unavailable: \(what)"
        case .storage(let what): "storage error: \(what)"
        }
    }
}
