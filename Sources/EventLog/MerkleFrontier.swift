/// The right edge of the Merkle tree as it grows: the roots of the complete subtrees that
/// make up the tree so far (at most 64), enough to add the next leaf and to compute the root.
///
/// Adding leaf *i* completes the subtrees that end at it: the leaf itself and one more per
/// trailing one bit of *i*. ``append(_:)`` returns exactly those, which is what a store keeps
/// for the record of sequence *i* + 1.
public struct MerkleFrontier: Sendable, Equatable {
    /// Leaves added so far.
    public private(set) var size: UInt64
    /// (level, hash) of each complete subtree of the decomposition of ``size``, largest first.
    private var stack: [(level: UInt8, hash: MerkleHash)]

    public static func == (a: MerkleFrontier, b: MerkleFrontier) -> Bool {
        a.size == b.size && a.stack.elementsEqual(b.stack) { $0 == $1 }
    }

    /// The frontier of the empty tree.
    public init() {
        size = 0
        stack = []
    }

    /// The frontier of the tree of `size` leaves, from its stored complete subtrees
    /// (``nodes(size:)``, read through `node`).
    public init(size: UInt64, node: (MerkleNodeID) throws -> MerkleHash) rethrows {
        self.size = size
        stack = try MerkleFrontier.nodes(size: size).map { ($0.level, try node($0)) }
    }

    /// The complete subtrees of the tree of `size` leaves, largest first: one per one bit of
    /// `size`.
    public static func nodes(size: UInt64) -> [MerkleNodeID] {
        var out = [MerkleNodeID]()
        var covered: UInt64 = 0
        for level in stride(from: 63, through: 0, by: -1) where size & (1 << UInt64(level)) != 0 {
            let width = UInt64(1) << UInt64(level)
            out.append(MerkleNodeID(level: UInt8(level), index: covered / width))
            covered += width
        }
        return out
    }

    /// Adds the leaf with hash `leafHash`; returns the hashes of the complete subtrees that end
    /// at it, level 0 (the leaf hash) first.
    @discardableResult
    public mutating func append(_ leafHash: MerkleHash) -> [MerkleHash] {
        var completed = [leafHash]
        var hash = leafHash
        var level: UInt8 = 0
        while let last = stack.last, last.level == level {
            stack.removeLast()
            hash = .node(last.hash, hash)
            level += 1
            completed.append(hash)
        }
        stack.append((level, hash))
        size += 1
        return completed
    }

    /// Adds the leaf with hash `leafHash` without returning the completed subtrees: what a
    /// check that only needs roots calls, one allocation-free step per record.
    public mutating func add(_ leafHash: MerkleHash) {
        var hash = leafHash
        var level: UInt8 = 0
        while let last = stack.last, last.level == level {
            stack.removeLast()
            hash = .node(last.hash, hash)
            level += 1
        }
        stack.append((level, hash))
        size += 1
    }

    /// The root of the tree so far (``MerkleHash/emptyRoot`` when empty).
    public var root: MerkleHash {
        guard var hash = stack.last?.hash else { return .emptyRoot }
        for entry in stack.dropLast().reversed() { hash = .node(entry.hash, hash) }
        return hash
    }
}
