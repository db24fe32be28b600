/// Nodes a store adds to its Merkle tree: those completed by the records from
/// ``firstSequence`` on, in order (``MerkleFrontier/append(_:)`` of each record's leaf).
///
/// Nodes are a function of the records alone, so two writers extending the same tree write
/// the same bytes: a store skips the ones it already holds instead of refusing them.
public struct MerkleTreeNodes: Sendable, Equatable {
    /// The sequence of the record whose nodes come first.
    public var firstSequence: UInt64
    /// For each record from ``firstSequence`` on, the complete subtrees ending at it, level 0
    /// (its leaf hash) first: one more than the trailing zero bits of its sequence.
    public var nodes: [[MerkleHash]]

    public init(firstSequence: UInt64, nodes: [[MerkleHash]] = []) {
        self.firstSequence = firstSequence
        self.nodes = nodes
    }

    /// The sequence of the last record covered (``firstSequence`` − 1 when empty).
    public var lastSequence: UInt64 { firstSequence + UInt64(nodes.count) - 1 }

    /// How many nodes end at the record of `sequence` (≥ 1).
    public static func count(at sequence: UInt64) -> Int { sequence.trailingZeroBitCount + 1 }

    /// Why these nodes cannot extend a tree of `storedSize` leaves in a log of `logSize`
    /// records, or `nil` when they can (a store checks this before writing).
    public func refusal(storedSize: UInt64, logSize: UInt64) -> String? {
        guard firstSequence >= 1 else { return "Merkle tree nodes start at sequence 1" }
        guard firstSequence <= storedSize + 1 else {
            return
                "Merkle tree nodes from sequence \(firstSequence) leave a gap after the stored tree of \(storedSize)"
        }
        guard nodes.isEmpty || lastSequence <= logSize else {
            return "Merkle tree nodes up to sequence \(lastSequence) go past the log's \(logSize)"
        }
        for (offset, entry) in nodes.enumerated()
        where entry.count != MerkleTreeNodes.count(at: firstSequence + UInt64(offset)) {
            return "Merkle tree nodes of sequence \(firstSequence + UInt64(offset)) are incomplete"
        }
        return nil
    }

    /// The stored value of one record's nodes: the 32-byte hashes, level 0 first.
    public static func encode(_ entry: [MerkleHash]) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(32 * entry.count)
        for hash in entry { hash.withBytes { out.append(contentsOf: $0) } }
        return out
    }

    /// The hash at `level` of a stored value, `nil` when the value is too short.
    public static func hash(level: UInt8, in value: UnsafeRawBufferPointer) -> MerkleHash? {
        let offset = Int(level) * 32
        guard value.count >= offset + 32 else { return nil }
        return MerkleHash(bytes: UnsafeRawBufferPointer(rebasing: value[offset..<(offset + 32)]))
    }
}
