import LMDB

/// The newest record of one stream, as kept in the `stream-heads` database: its stream version
/// and its sequence, each a big-endian `UInt64` (16 bytes). A stream without events has none
/// stored and is at ``none``.
struct StreamHead: Equatable, Sendable {
    var version: UInt64
    var sequence: UInt64

    static let none = StreamHead(version: 0, sequence: 0)

    /// The 16 stored bytes.
    var bytes: [UInt8] { SequenceKey.bytes(version) + SequenceKey.bytes(sequence) }

    init(version: UInt64, sequence: UInt64) {
        self.version = version
        self.sequence = sequence
    }

    /// Reads the stored bytes; `nil` when they are not 16 bytes long.
    init?(stored: UnsafeRawBufferPointer) {
        guard stored.count == 16 else { return nil }
        version = SequenceKey.decode(stored)
        sequence = SequenceKey.decode(UnsafeRawBufferPointer(rebasing: stored[8...]))
    }

    /// The stored head of `stream`, or ``none``.
    /// - Throws: ``EventLogError/corruptedRecord(sequence:reason:)`` for an entry that is not 16
    ///   bytes; storage errors.
    static func stored(
        _ stream: String, txn: borrowing LMDBTransaction, heads: LMDBDatabase
    ) throws -> StreamHead {
        let key = Array(stream.utf8)
        let found = try key.withUnsafeBytes { try txn.get(heads, key: $0) }
        guard let found else { return .none }
        guard let head = StreamHead(stored: found) else {
            throw EventLogError.corruptedRecord(
                sequence: 0, reason: "stream head of '\(stream)' is not 16 bytes")
        }
        return head
    }

    /// Stores this head for `stream`.
    func store(
        _ stream: String, txn: borrowing LMDBTransaction, heads: LMDBDatabase
    ) throws {
        var be = (version.bigEndian, sequence.bigEndian)
        let key = Array(stream.utf8)
        try withUnsafeBytes(of: &be) { value in
            try key.withUnsafeBytes { try txn.put(heads, key: $0, value: value) }
        }
    }
}
