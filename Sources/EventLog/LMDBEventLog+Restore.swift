import LMDB

extension LMDBEventLog {
    /// Writes records taken from another log (a dump being loaded) into this empty log,
    /// verbatim: same sequences, times, ids and hashes, each checked by ``RestoredChain``.
    /// The Merkle tree's nodes are written with the records, so the restored log gives the
    /// same roots and proofs as the original. Records are written in transactions of `batch`
    /// records (each flushed when the log is durable, and once more at the end); nothing is
    /// visible to the writer until it returns.
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
        var frontier = MerkleFrontier()
        var treeNodes = [[MerkleHash]]()
        guard let treeDB = databases.treeNodes else { throw EventLogError.readOnly }
        func flush() throws {
            guard !pending.isEmpty else { return }
            let chunk = pending
            let chunkHeads = changed
            let chunkNodes = treeNodes
            pending.removeAll(keepingCapacity: true)
            changed.removeAll(keepingCapacity: true)
            treeNodes.removeAll(keepingCapacity: true)
            try env.retryingResize {
                try env.write { txn in
                    for (admitted, nodes) in zip(chunk, chunkNodes) {
                        let record = admitted.record
                        let sequence = SequenceKey.bytes(record.sequence)
                        try txn.put(
                            treeDB, key: sequence, value: MerkleTreeNodes.encode(nodes),
                            flags: .append)
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
            treeNodes.append(frontier.append(.leaf(record: record.hash)))
            if pending.count >= batch { try flush() }
        }
        try flush()
        try env.sync()
        writer?.adoptRestored(head: chain.head)
    }
}
