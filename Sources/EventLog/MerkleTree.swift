/// The Merkle tree of RFC 9162 §2.1 over the log's records, as pure functions: subtree
/// hashes, inclusion and consistency proofs, and their verification. No I/O: the stored
/// complete subtrees (``MerkleNodeID``) come in through a lookup closure, so the same code
/// serves every store, the offline tools and the tests.
///
/// Sizes and leaf indices follow the RFC: a tree of size *n* holds leaves 0..<n, and leaf
/// *i* is the record of sequence *i* + 1, so "the tree of size *n*" is the log up to and
/// including sequence *n*.
public enum MerkleTree {
    /// Why a proof was refused: a sentence for people, never a secret.
    public struct ProofFailure: Error, Equatable, Sendable, CustomStringConvertible {
        public var reason: String
        public init(_ reason: String) { self.reason = reason }
        public var description: String { reason }
    }

    /// The largest power of two smaller than `n` (`n` ≥ 2): where RFC 9162 splits a tree.
    @inline(__always)
    static func split(_ n: UInt64) -> UInt64 {
        1 << UInt64(63 - (n - 1).leadingZeroBitCount)
    }

    /// MTH(D[start..<end]) from the complete subtrees it is made of: one when the range is a
    /// complete aligned subtree, else the left power of two and the rest, as the RFC splits.
    /// - Parameter node: the stored hash of a complete subtree; what it throws passes through.
    public static func subtreeHash(
        _ start: UInt64, _ end: UInt64, node: (MerkleNodeID) throws -> MerkleHash
    ) rethrows -> MerkleHash {
        precondition(end > start)
        let n = end - start
        if n & (n - 1) == 0, start % n == 0 {
            return try node(
                MerkleNodeID(level: UInt8(n.trailingZeroBitCount), index: start / n))
        }
        let k = split(n)
        return MerkleHash.node(
            try subtreeHash(start, start + k, node: node),
            try subtreeHash(start + k, end, node: node))
    }

    /// The root of the tree of `size` leaves (``MerkleHash/emptyRoot`` for 0).
    public static func root(size: UInt64, node: (MerkleNodeID) throws -> MerkleHash) rethrows
        -> MerkleHash
    {
        size == 0 ? .emptyRoot : try subtreeHash(0, size, node: node)
    }

    /// The audit path of leaf `leaf` in the tree of `size` leaves (RFC 9162 §2.1.3.1),
    /// nearest sibling first. Requires `leaf < size`.
    public static func inclusionProof(
        leaf: UInt64, size: UInt64, node: (MerkleNodeID) throws -> MerkleHash
    ) rethrows -> [MerkleHash] {
        precondition(leaf < size)
        var path = [MerkleHash]()
        try inclusionPath(leaf, 0, size, into: &path, node: node)
        return path
    }

    private static func inclusionPath(
        _ m: UInt64, _ start: UInt64, _ end: UInt64, into path: inout [MerkleHash],
        node: (MerkleNodeID) throws -> MerkleHash
    ) rethrows {
        let n = end - start
        guard n > 1 else { return }
        let k = split(n)
        if m < k {
            try inclusionPath(m, start, start + k, into: &path, node: node)
            path.append(try subtreeHash(start + k, end, node: node))
        } else {
            try inclusionPath(m - k, start + k, end, into: &path, node: node)
            path.append(try subtreeHash(start, start + k, node: node))
        }
    }

    /// The proof that the tree of `first` leaves is a prefix of the tree of `second`
    /// (RFC 9162 §2.1.4.1). Empty when `first == second`; requires 1 ≤ `first` ≤ `second`.
    public static func consistencyProof(
        first: UInt64, second: UInt64, node: (MerkleNodeID) throws -> MerkleHash
    ) rethrows -> [MerkleHash] {
        precondition(first >= 1 && first <= second)
        var path = [MerkleHash]()
        try subproof(first, 0, second, complete: true, into: &path, node: node)
        return path
    }

    private static func subproof(
        _ m: UInt64, _ start: UInt64, _ end: UInt64, complete: Bool,
        into path: inout [MerkleHash], node: (MerkleNodeID) throws -> MerkleHash
    ) rethrows {
        let n = end - start
        if m == n {
            if !complete { path.append(try subtreeHash(start, end, node: node)) }
            return
        }
        let k = split(n)
        if m <= k {
            try subproof(m, start, start + k, complete: complete, into: &path, node: node)
            path.append(try subtreeHash(start + k, end, node: node))
        } else {
            try subproof(m - k, start + k, end, complete: false, into: &path, node: node)
            path.append(try subtreeHash(start, start + k, node: node))
        }
    }

    /// Records the complete subtrees a computation reads, in the order it asks for them: run
    /// it once with ``read(_:)`` to learn which nodes to fetch (one round trip to a store),
    /// then again with the fetched ones. The shape of the tree alone decides which nodes are
    /// read, so the second run asks for exactly these.
    public final class Recorder {
        private var seen = Set<MerkleNodeID>()
        /// The nodes asked for, each once, in order.
        public private(set) var nodes = [MerkleNodeID]()

        public init() {}

        /// Notes `id` and answers a placeholder hash.
        public func read(_ id: MerkleNodeID) -> MerkleHash {
            if seen.insert(id).inserted { nodes.append(id) }
            return .emptyRoot
        }
    }

    // MARK: Verification

    /// The root an audit path leads to from `leafHash` (RFC 9162 §2.1.3.2), or why it leads
    /// nowhere (an index outside the tree, a path of the wrong length).
    public static func rootFromInclusionProof(
        leaf: UInt64, size: UInt64, leafHash: MerkleHash, path: [MerkleHash]
    ) throws(ProofFailure) -> MerkleHash {
        guard leaf < size else {
            throw ProofFailure("leaf \(leaf) is not in a tree of size \(size)")
        }
        var fn = leaf
        var sn = size - 1
        var r = leafHash
        for p in path {
            guard sn != 0 else { throw ProofFailure("the audit path is too long") }
            if fn & 1 == 1 || fn == sn {
                r = .node(p, r)
                if fn & 1 == 0 {
                    while fn & 1 == 0 && fn != 0 {
                        fn >>= 1
                        sn >>= 1
                    }
                }
            } else {
                r = .node(r, p)
            }
            fn >>= 1
            sn >>= 1
        }
        guard sn == 0 else { throw ProofFailure("the audit path is too short") }
        return r
    }

    /// Checks an audit path against a known root.
    /// - Throws: ``ProofFailure`` saying what does not match.
    public static func verifyInclusion(
        leaf: UInt64, size: UInt64, leafHash: MerkleHash, path: [MerkleHash], root: MerkleHash
    ) throws(ProofFailure) {
        let computed = try rootFromInclusionProof(
            leaf: leaf, size: size, leafHash: leafHash, path: path)
        guard computed == root else {
            throw ProofFailure(
                "the audit path leads to root \(computed.hex), not to the signed root \(root.hex)")
        }
    }

    /// Checks that the tree of `first` leaves with root `firstRoot` is a prefix of the tree of
    /// `second` leaves with root `secondRoot` (RFC 9162 §2.1.4.2).
    /// - Throws: ``ProofFailure`` saying what does not match.
    public static func verifyConsistency(
        first: UInt64, second: UInt64, firstRoot: MerkleHash, secondRoot: MerkleHash,
        proof: [MerkleHash]
    ) throws(ProofFailure) {
        guard first >= 1, first <= second else {
            throw ProofFailure("no consistency proof goes from size \(first) to size \(second)")
        }
        if first == second {
            guard proof.isEmpty else {
                throw ProofFailure("a proof between equal sizes must be empty")
            }
            guard firstRoot == secondRoot else {
                throw ProofFailure("two trees of size \(first) have different roots")
            }
            return
        }
        var path = proof
        if first & (first - 1) == 0 { path.insert(firstRoot, at: 0) }
        guard let head = path.first else { throw ProofFailure("the consistency proof is empty") }
        var fn = first - 1
        var sn = second - 1
        while fn & 1 == 1 {
            fn >>= 1
            sn >>= 1
        }
        var fr = head
        var sr = head
        for c in path.dropFirst() {
            guard sn != 0 else { throw ProofFailure("the consistency proof is too long") }
            if fn & 1 == 1 || fn == sn {
                fr = .node(c, fr)
                sr = .node(c, sr)
                if fn & 1 == 0 {
                    while fn & 1 == 0 && fn != 0 {
                        fn >>= 1
                        sn >>= 1
                    }
                }
            } else {
                sr = .node(sr, c)
            }
            fn >>= 1
            sn >>= 1
        }
        guard sn == 0 else { throw ProofFailure("the consistency proof is too short") }
        guard fr == firstRoot else {
            throw ProofFailure(
                "the proof does not lead to the first root: size \(first) was not a prefix")
        }
        guard sr == secondRoot else {
            throw ProofFailure(
                "the proof does not lead to the second root: size \(second) does not extend size \(first)"
            )
        }
    }
}
