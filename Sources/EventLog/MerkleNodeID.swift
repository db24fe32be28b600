/// A complete subtree of the Merkle tree: the `2^level` leaves from `index · 2^level` on
/// (leaves counted from 0: leaf *i* is the record of sequence *i* + 1).
///
/// These are the only nodes a store keeps: every other subtree hash a proof needs is combined
/// from O(log n) of them (``MerkleTree/subtreeHash(_:_:node:)``). A store files a node under
/// ``lastSequence``, the sequence of its last leaf, so that the nodes of each new record are
/// written at the end of the store, in log order.
public struct MerkleNodeID: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// 0 for a leaf, up to 63.
    public var level: UInt8
    /// Position among the subtrees of its level, from 0.
    public var index: UInt64

    public init(level: UInt8, index: UInt64) {
        precondition(level < 64)
        self.level = level
        self.index = index
    }

    /// The first leaf covered (from 0).
    public var firstLeaf: UInt64 { index << UInt64(level) }

    /// The sequence of the last record covered: the key the stores file this node under.
    public var lastSequence: UInt64 { (index + 1) << UInt64(level) }

    public static func < (a: MerkleNodeID, b: MerkleNodeID) -> Bool {
        (a.lastSequence, a.level) < (b.lastSequence, b.level)
    }

    public var description: String { "node(level \(level), index \(index))" }
}
