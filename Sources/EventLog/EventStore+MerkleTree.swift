/// The Merkle tree of a store: kept up to date from the records, and read for roots and
/// proofs with one read of O(log² n) stored nodes, never a scan of the log.
///
/// LMDB's writer stores each record's nodes in the record's own commit; elsewhere (and for a
/// log written before the tree existed) the stored tree grows by ``extendMerkleTree(through:)``:
/// it hashes the records after the stored tree (checking their chain on the way) and stores
/// the completed nodes in one write per 65,536 records. The server's sealer extends it before
/// each signed tree head, so every signed tree size is covered; proofs are given only for
/// sizes the stored tree covers.
extension EventStore {
    /// Records hashed and stored per write while extending.
    static var merkleExtensionChunk: UInt64 { 65_536 }

    /// Extends the stored tree to the record of sequence `through` (default: the newest) and
    /// returns the size it covers then.
    /// - Throws: ``EventLogError``: `corruptedRecord` when a record does not chain (nothing of
    ///   the tree beyond the last good chunk is stored), `readOnly`, `storage`.
    @discardableResult
    public func extendMerkleTree(through: UInt64? = nil) async throws -> UInt64 {
        let stored = try await merkleTreeSize()
        let newest = try await head().sequence
        let end = min(through ?? newest, newest)
        guard end > stored else { return stored }
        let known = try await merkleNodes(MerkleFrontier.nodes(size: stored))
        var frontier = try MerkleFrontier(size: stored) { id in try Self.node(id, in: known) }
        while frontier.size < end {
            let last = min(end, frontier.size + Self.merkleExtensionChunk)
            var chunk = MerkleTreeNodes(firstSequence: frontier.size + 1)
            chunk.nodes.reserveCapacity(Int(last - frontier.size))
            try await scan(from: frontier.size + 1, through: last, verifyingChain: true) { view in
                chunk.nodes.append(frontier.append(.leaf(record: view.hash)))
            }
            guard frontier.size == last else {
                throw EventLogError.corruptedRecord(
                    sequence: frontier.size + 1, reason: "record missing while hashing the tree")
            }
            try await storeMerkleNodes(chunk)
        }
        return end
    }

    /// The root of the tree of the first `size` records.
    /// - Throws: ``EventLogError/invalidEvent(_:)`` when the stored tree does not cover
    ///   `size`; what ``merkleNodes(_:)`` throws.
    public func merkleRoot(size: UInt64) async throws -> MerkleHash {
        try await computed(size: size) { node in try MerkleTree.root(size: size, node: node) }
    }

    /// The audit path of the record of `sequence` in the tree of `treeSize` records.
    /// - Throws: ``EventLogError/invalidEvent(_:)`` when `sequence` is not in that tree or
    ///   the stored tree does not cover it.
    public func auditPath(sequence: UInt64, treeSize: UInt64) async throws -> [MerkleHash] {
        guard sequence >= 1, sequence <= treeSize else {
            throw EventLogError.invalidEvent(
                "sequence \(sequence) is not in the tree of size \(treeSize)")
        }
        return try await computed(size: treeSize) { node in
            try MerkleTree.inclusionProof(leaf: sequence - 1, size: treeSize, node: node)
        }
    }

    /// The proof that the tree of `first` records is a prefix of the tree of `second`.
    /// - Throws: ``EventLogError/invalidEvent(_:)`` unless 1 ≤ `first` ≤ `second` ≤ the stored
    ///   tree's size.
    public func consistencyPath(first: UInt64, second: UInt64) async throws -> [MerkleHash] {
        guard first >= 1, first <= second else {
            throw EventLogError.invalidEvent(
                "no consistency proof goes from size \(first) to size \(second)")
        }
        return try await computed(size: second) { node in
            try MerkleTree.consistencyProof(first: first, second: second, node: node)
        }
    }

    /// Runs `body` twice: once to learn which stored nodes it reads, then with them fetched
    /// in one call.
    private func computed<R>(
        size: UInt64, _ body: ((MerkleNodeID) throws -> MerkleHash) throws -> R
    ) async throws -> R {
        let stored = try await merkleTreeSize()
        guard size <= stored else {
            throw EventLogError.invalidEvent(
                "the stored Merkle tree covers \(stored) records, not \(size)")
        }
        let recorder = MerkleTree.Recorder()
        _ = try body(recorder.read)
        let fetched = try await merkleNodes(recorder.nodes)
        return try body { id in try Self.node(id, in: fetched) }
    }

    private static func node(_ id: MerkleNodeID, in nodes: [MerkleNodeID: MerkleHash]) throws
        -> MerkleHash
    {
        guard let hash = nodes[id] else {
            throw EventLogError.corruptedRecord(
                sequence: id.lastSequence, reason: "Merkle tree \(id) is not stored")
        }
        return hash
    }
}
