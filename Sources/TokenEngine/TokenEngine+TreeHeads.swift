import EventLog

extension TokenEngine {
    /// Signs the head of the whole log and records it (stream ``SignedTreeHead/stream``)
    /// when records other than signed heads were appended since the newest head; returns the
    /// head recorded, or `nil` when there was nothing new, no signer is configured, or
    /// another server sharing the log recorded its head first.
    ///
    /// Before signing it makes sure the stored Merkle tree reaches the log's head (LMDB's
    /// commits keep it there; PostgreSQL's tree is extended here, hashing only the records
    /// since the last extension), so the tree of every signed size is stored and proofs
    /// against it need no scan. The server calls this every `seal-interval`.
    ///
    /// Several servers on one log may call it at once: each appends with the stream version
    /// it read, so exactly one head is recorded and the others get `wrongExpectedVersion`,
    /// which is answered `nil` here (their heads are dropped unsigned-for: the next interval
    /// covers what they would have).
    /// - Parameter now: the signing time, µs since the Unix epoch.
    /// - Throws: ``EventLogError`` from reading the log, extending the tree or appending.
    @discardableResult
    public func sealTreeHead(now: Int64) async throws -> SignedTreeHead? {
        guard let signer = configuration.treeHeadSigner else { return nil }
        let stream = SignedTreeHead.stream
        let version = try await log.streamVersion(stream)
        var covered: UInt64 = 0
        var newestAt: UInt64 = 0
        if version > 0, let record = try await log.readStream(stream, from: version).first,
            let newest = SignedTreeHead(record: record)
        {
            covered = newest.treeSize
            newestAt = record.sequence
        }
        let size = try await log.head().sequence
        // Records after the newest head's tree, not counting the record of that head itself.
        guard size > covered, size - covered - (newestAt > covered ? 1 : 0) > 0 else {
            return nil
        }
        try await log.extendMerkleTree(through: size)
        let head = try signer.sign(size: size, root: try await log.merkleRoot(size: size), now: now)
        let result: AppendResult
        do {
            result = try await log.append(
                to: stream, expecting: .exact(version),
                events: [
                    ProposedEvent(id: .random(), type: SignedTreeHead.type, payload: head.payload)
                ])
        } catch EventLogError.wrongExpectedVersion {
            return nil
        }
        projection.skip(result.positions)
        return head
    }

    /// The log the engine serves, for the audit endpoints (newest head, proofs): they read
    /// it through ``EventStore``'s tree-head functions, as the offline tools do.
    public var auditLog: any EventStore { log }
}
