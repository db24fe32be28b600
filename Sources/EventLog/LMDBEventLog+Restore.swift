import LMDB

extension LMDBEventLog {
    /// Writes records taken from another log (a dump being loaded) into this empty log,
    /// verbatim: same sequences, times, ids and hashes.
    ///
    /// Each record must follow the one before it (sequence + 1, previous hash = its hash) and
    /// its hash must be the SHA-256 of its contents, so a restored log is exactly as sound as
    /// the chain it was given. The Merkle tree's nodes are written with the records, so the
    /// restored log gives the same roots and proofs as the original. Records are written in transactions of `batch` records and
    /// flushed once at the end; nothing is visible to the writer until it returns.
    /// - Throws: ``EventLogError/invalidEvent(_:)`` naming the first record that does not fit
    ///   (the log is then left partly filled and must be discarded), ``EventLogError/readOnly``,
    ///   storage errors.
    public func restore(_ records: some Sequence<EventRecord>, batch: Int = 10_000) async throws {
        guard !isReadOnly else { throw EventLogError.readOnly }
        guard try head() == .empty else {
            throw EventLogError.invalidEvent("restore needs an empty log")
        }
        var previous = LogHead.empty
        var heads = [String: StreamHead]()
        /// Checked records with their stored bytes and their stream's previous record, waiting
        /// for the next transaction.
        var pending = [(record: EventRecord, bytes: [UInt8], link: UInt64)]()
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
                    for ((record, bytes, link), nodes) in zip(chunk, chunkNodes) {
                        let sequence = SequenceKey.bytes(record.sequence)
                        try txn.put(
                            treeDB, key: sequence, value: MerkleTreeNodes.encode(nodes),
                            flags: .append)
                        try txn.put(databases.records, key: sequence, value: bytes, flags: .append)
                        try txn.put(
                            databases.streamLinks, key: sequence, value: SequenceKey.bytes(link),
                            flags: .append)
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
            let expected = previous.sequence + 1
            guard record.sequence == expected else {
                throw EventLogError.invalidEvent(
                    "record \(record.sequence) out of order (expected \(expected))")
            }
            guard record.previousHash == previous.hash else {
                throw EventLogError.invalidEvent(
                    "record \(record.sequence): previous hash does not chain")
            }
            guard record.recordedAt >= previous.recordedAt || previous.sequence == 0 else {
                throw EventLogError.invalidEvent(
                    "record \(record.sequence): recorded time goes back")
            }
            let proposed = ProposedEvent(
                id: record.eventID, type: record.type, payload: record.payload)
            if let why = AppendPlanner.validate(stream: record.stream, events: [proposed]) {
                throw EventLogError.invalidEvent("record \(record.sequence): \(why)")
            }
            let version = (heads[record.stream] ?? .none).version + 1
            guard record.streamVersion == version else {
                throw EventLogError.invalidEvent(
                    "record \(record.sequence): stream version \(record.streamVersion), expected \(version)"
                )
            }
            let (bytes, hash) = RecordCodec.encode(
                sequence: record.sequence, stream: record.stream,
                streamVersion: record.streamVersion,
                recordedAt: record.recordedAt, event: proposed, previousHash: record.previousHash)
            guard hash == record.hash else {
                throw EventLogError.invalidEvent(
                    "record \(record.sequence): hash does not match its contents")
            }
            let link = heads[record.stream]?.sequence ?? 0
            let head = StreamHead(version: version, sequence: record.sequence)
            heads[record.stream] = head
            changed[record.stream] = head
            previous = LogHead(
                sequence: record.sequence, hash: record.hash, recordedAt: record.recordedAt)
            pending.append((record, bytes, link))
            treeNodes.append(frontier.append(.leaf(record: hash)))
            if pending.count >= batch { try flush() }
        }
        try flush()
        try env.sync()
        writer?.adoptRestored(head: previous)
    }
}
