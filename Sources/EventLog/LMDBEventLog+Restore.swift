import LMDB

extension LMDBEventLog {
    /// Writes records taken from another log (a dump being loaded) into this empty log,
    /// verbatim: same sequences, times, ids and hashes, each checked by ``RestoredChain``.
    /// Records are written in transactions of `batch` records and flushed once at the end;
    /// nothing is visible to the writer until it returns.
    /// - Throws: ``EventLogError/invalidEvent(_:)`` naming the first record that does not fit
    ///   (the log is then left partly filled and must be discarded), ``EventLogError/readOnly``,
    ///   storage errors.
    public func restore(_ records: some Sequence<EventRecord>, batch: Int = 10_000) async throws {
        guard !isReadOnly else { throw EventLogError.readOnly }
        guard try head() == .empty else {
            throw EventLogError.invalidEvent("restore needs an empty log")
        }
        var chain = RestoredChain()
        /// Checked records waiting for the next transaction, with the stream heads they move.
        var pending = [RestoredChain.Admitted]()
        var changed = [String: StreamHead]()
        func flush() throws {
            guard !pending.isEmpty else { return }
            let chunk = pending
            let chunkHeads = changed
            pending.removeAll(keepingCapacity: true)
            changed.removeAll(keepingCapacity: true)
            try env.retryingResize {
                try env.write { txn in
                    for admitted in chunk {
                        let record = admitted.record
                        let sequence = SequenceKey.bytes(record.sequence)
                        try txn.put(
                            databases.records, key: sequence, value: admitted.bytes,
                            flags: .append)
                        try txn.put(
                            databases.streamLinks, key: sequence,
                            value: SequenceKey.bytes(admitted.previousInStream), flags: .append)
                        try txn.put(
                            databases.eventIDs, key: record.eventID.bytes,
                            value: sequence + SequenceKey.bytes(record.streamVersion),
                            flags: .noOverwrite)
                    }
                    for (stream, head) in chunkHeads {
                        try head.store(stream, txn: txn, heads: databases.streamHeads)
                    }
                }
            }
        }
        for record in records {
            let admitted = try chain.admit(record)
            changed[record.stream] = StreamHead(
                version: record.streamVersion, sequence: record.sequence)
            pending.append(admitted)
            if pending.count >= batch { try flush() }
        }
        try flush()
        try env.sync()
        writer?.adoptRestored(head: chain.head)
    }
}
