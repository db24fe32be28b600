import LMDB

extension LMDBEventLog {
    /// Upgrades a format-1 log to format 2 in one write transaction: builds `stream-heads` and
    /// `stream-links` from the records, empties format 1's `streams` index and sets the format
    /// to 2. Records, event ids and checkpoints stay as they are (their layouts did not change).
    /// A second transaction then deletes the emptied `streams` database; should that fail, an
    /// empty `streams` database is left behind, which format 2 ignores.
    ///
    /// All or nothing: a crash or failure before the first commit leaves the format-1 log
    /// untouched (the next writable open tries again). It runs only from a writable open,
    /// before the writer starts, and reads every record once (1.7 s for a million records here,
    /// measured with the server's first start on a format-1 log).
    /// - Throws: ``EventLogError/corruptedRecord(sequence:reason:)`` when a record does not
    ///   decode or a stream version is out of order (the log then stays at format 1); storage
    ///   errors.
    static func upgradeFromFormat1(env: LMDBEnvironment, databases: Databases) throws {
        let oldIndex: LMDBDatabase?
        do {
            oldIndex = try env.openDatabase("streams", create: false)
        } catch LMDBError.databaseNotFound {
            oldIndex = nil
        }
        try env.retryingResize {
            try env.write { txn in
                try txn.removeAll(databases.streamHeads)
                try txn.removeAll(databases.streamLinks)
                var heads = [String: StreamHead]()
                try txn.withCursor(databases.records) { cursor in
                    var entry = try cursor.first()
                    while let e = entry {
                        let sequence = SequenceKey.decode(e.key)
                        let view = try decode(e.value, at: sequence)
                        let stream = view.streamString
                        let previous = heads[stream] ?? .none
                        guard view.streamVersion == previous.version + 1 else {
                            throw EventLogError.corruptedRecord(
                                sequence: sequence,
                                reason:
                                    "stream '\(stream)' version \(view.streamVersion), expected \(previous.version + 1)"
                            )
                        }
                        try SequenceKey.withKey(sequence) { key in
                            try SequenceKey.withKey(previous.sequence) { link in
                                try txn.put(
                                    databases.streamLinks, key: key, value: link, flags: .append)
                            }
                        }
                        heads[stream] = StreamHead(
                            version: view.streamVersion, sequence: sequence)
                        entry = try cursor.next()
                    }
                }
                for (stream, head) in heads {
                    try head.store(stream, txn: txn, heads: databases.streamHeads)
                }
                if let oldIndex { try txn.removeAll(oldIndex) }
                try txn.put(
                    databases.meta, key: formatKey, value: formatBytes(storeFormatVersion))
            }
        }
        // Not retried: LMDB closes the handle as soon as the drop is staged.
        if let oldIndex { try? env.write { txn in try txn.deleteDatabase(oldIndex) } }
    }
}

/// Format 1's stream index keys: stream id ‖ 0x00 ‖ big-endian version (kept to read and test
/// the upgrade from format 1).
enum StreamKey {
    static func prefix(_ stream: String) -> [UInt8] { Array(stream.utf8) + [0] }

    static func make(_ stream: String, version: UInt64) -> [UInt8] {
        prefix(stream) + SequenceKey.bytes(version)
    }
}
