import Crypto
import EventLog
import Testing
import TextCoding

/// The Merkle tree against the published RFC 6962 test vectors (the Certificate Transparency
/// leaves, as Trillian's `testonly` package and CT's `merkle_tree_test` carry them), and
/// against a naive recomputation straight from RFC 9162's definitions for every size up to
/// 300.
@Suite("Merkle tree")
struct MerkleTreeTests {
    /// The eight leaves of the CT test vectors.
    static let leaves: [[UInt8]] = [
        [], [0x00], [0x10], [0x20, 0x21], [0x30, 0x31], [0x40, 0x41, 0x42, 0x43],
        [0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57],
        Array(0x60...0x6f),
    ]

    /// MTH of the first n leaves, n = 0...8.
    static let roots = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ]

    static func h(_ hex: String) -> MerkleHash { MerkleHash(hex: hex)! }

    static func leafHash(_ data: [UInt8]) -> MerkleHash {
        data.withUnsafeBytes { MerkleHash.leaf($0) }
    }

    /// Every complete subtree of `leafHashes`, as a store keeps them, built by the frontier.
    static func stored(_ leafHashes: [MerkleHash]) -> [MerkleNodeID: MerkleHash] {
        var nodes = [MerkleNodeID: MerkleHash]()
        var frontier = MerkleFrontier()
        for (i, leaf) in leafHashes.enumerated() {
            let sequence = UInt64(i + 1)
            for (level, hash) in frontier.append(leaf).enumerated() {
                let width = UInt64(1) << UInt64(level)
                nodes[MerkleNodeID(level: UInt8(level), index: sequence / width - 1)] = hash
            }
        }
        return nodes
    }

    // MARK: Naive RFC 9162 §2.1, straight from the definitions

    /// MTH, PATH and SUBPROOF over an array of leaf hashes exactly as the RFC defines them
    /// (recursion on ranges), with MTH of each range remembered so that every size up to 300
    /// stays quick.
    final class Naive {
        let d: [MerkleHash]
        private var roots = [Range<Int>: MerkleHash]()

        init(_ leafHashes: [MerkleHash]) { d = leafHashes }

        static func split(_ n: Int) -> Int {
            var k = 1
            while k * 2 < n { k *= 2 }
            return k
        }

        func root(_ r: Range<Int>) -> MerkleHash {
            if r.isEmpty { return .emptyRoot }
            if r.count == 1 { return d[r.lowerBound] }
            if let known = roots[r] { return known }
            let k = Self.split(r.count)
            let hash = MerkleHash.node(
                root(r.lowerBound..<(r.lowerBound + k)), root((r.lowerBound + k)..<r.upperBound))
            roots[r] = hash
            return hash
        }

        func path(_ m: Int, _ r: Range<Int>) -> [MerkleHash] {
            if r.count <= 1 { return [] }
            let k = Self.split(r.count)
            let left = r.lowerBound..<(r.lowerBound + k)
            let right = (r.lowerBound + k)..<r.upperBound
            if m < k { return path(m, left) + [root(right)] }
            return path(m - k, right) + [root(left)]
        }

        func subproof(_ m: Int, _ r: Range<Int>, _ b: Bool) -> [MerkleHash] {
            if m == r.count { return b ? [] : [root(r)] }
            let k = Self.split(r.count)
            let left = r.lowerBound..<(r.lowerBound + k)
            let right = (r.lowerBound + k)..<r.upperBound
            if m <= k { return subproof(m, left, b) + [root(right)] }
            return subproof(m - k, right, false) + [root(left)]
        }
    }

    // MARK: Published vectors

    @Test func rootsOfTheCTVectors() throws {
        let leafHashes = Self.leaves.map(Self.leafHash)
        let nodes = Self.stored(leafHashes)
        for size in 0...8 {
            #expect(MerkleTree.root(size: UInt64(size)) { nodes[$0]! }.hex == Self.roots[size])
            var frontier = MerkleFrontier()
            for leaf in leafHashes.prefix(size) { frontier.append(leaf) }
            #expect(frontier.root.hex == Self.roots[size])
        }
        #expect(MerkleHash.emptyRoot.hex == Self.roots[0])
    }

    @Test func leafAndInteriorHashesOfTheVectors() {
        // Trillian's compact-range test data: the leaf hashes and the level-1 and level-2
        // nodes of the eight-leaf tree.
        let expectedLeaves = [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
            "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
        ]
        #expect(Self.leaves.map { Self.leafHash($0).hex } == expectedLeaves)
        let nodes = Self.stored(Self.leaves.map(Self.leafHash))
        let level1 = (0..<4).map { nodes[MerkleNodeID(level: 1, index: UInt64($0))]!.hex }
        #expect(
            level1 == [
                "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            ])
        #expect(
            nodes[MerkleNodeID(level: 2, index: 1)]!.hex
                == "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")
    }

    @Test func auditPathsOfTheVectors() throws {
        let leafHashes = Self.leaves.map(Self.leafHash)
        let nodes = Self.stored(leafHashes)
        let cases: [(leaf: UInt64, size: UInt64, path: [String])] = [
            (
                0, 8,
                [
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ]
            ),
            (
                5, 8,
                [
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ]
            ),
            (0, 1, []),
        ]
        for c in cases {
            let path = MerkleTree.inclusionProof(leaf: c.leaf, size: c.size) { nodes[$0]! }
            #expect(path.map(\.hex) == c.path, "leaf \(c.leaf) of \(c.size)")
            try MerkleTree.verifyInclusion(
                leaf: c.leaf, size: c.size, leafHash: leafHashes[Int(c.leaf)], path: path,
                root: Self.h(Self.roots[Int(c.size)]))
        }
    }

    @Test func consistencyProofsOfTheVectors() throws {
        let nodes = Self.stored(Self.leaves.map(Self.leafHash))
        let cases: [(first: UInt64, second: UInt64, proof: [String])] = [
            (1, 1, []),
            (
                1, 8,
                [
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ]
            ),
            (
                6, 8,
                [
                    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ]
            ),
            (
                2, 5,
                [
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                ]
            ),
        ]
        for c in cases {
            let proof = MerkleTree.consistencyProof(first: c.first, second: c.second) {
                nodes[$0]!
            }
            #expect(proof.map(\.hex) == c.proof, "\(c.first) → \(c.second)")
            try MerkleTree.verifyConsistency(
                first: c.first, second: c.second, firstRoot: Self.h(Self.roots[Int(c.first)]),
                secondRoot: Self.h(Self.roots[Int(c.second)]), proof: proof)
        }
    }

    // MARK: Every size up to 300 against the naive definitions

    /// `async`, yielding between sizes: a long computation must not hold one of the two
    /// cooperative threads the other tests' servers answer on.
    @Test func everySizeUpTo300MatchesTheNaiveDefinitions() async throws {
        let leafHashes = (0..<300).map { i in Self.leafHash(Array("leaf \(i)".utf8)) }
        let naive = Naive(leafHashes)
        let nodes = Self.stored(leafHashes)
        let node: (MerkleNodeID) -> MerkleHash = { nodes[$0]! }
        var roots = [MerkleHash]()
        var frontier = MerkleFrontier()
        for size in 0...300 {
            await Task.yield()
            if size > 0 { frontier.append(leafHashes[size - 1]) }
            let expected = naive.root(0..<size)
            roots.append(expected)
            #expect(MerkleTree.root(size: UInt64(size), node: node) == expected, "root of \(size)")
            #expect(frontier.root == expected, "frontier root of \(size)")
            guard size > 0 else { continue }
            // A frontier rebuilt from the stored nodes continues as the grown one does.
            #expect(MerkleFrontier(size: UInt64(size), node: node) == frontier)
            for m in 0..<size {
                let path = MerkleTree.inclusionProof(
                    leaf: UInt64(m), size: UInt64(size), node: node)
                #expect(path == naive.path(m, 0..<size), "path \(m) of \(size)")
                try MerkleTree.verifyInclusion(
                    leaf: UInt64(m), size: UInt64(size), leafHash: leafHashes[m], path: path,
                    root: expected)
            }
        }
        for second in 1...300 {
            await Task.yield()
            for first in 1...second {
                let proof = MerkleTree.consistencyProof(
                    first: UInt64(first), second: UInt64(second), node: node)
                #expect(
                    proof == naive.subproof(first, 0..<second, true),
                    "consistency \(first) → \(second)")
                try MerkleTree.verifyConsistency(
                    first: UInt64(first), second: UInt64(second), firstRoot: roots[first],
                    secondRoot: roots[second], proof: proof)
            }
        }
    }

    // MARK: Tampering

    @Test func tamperedInclusionProofsAreRefused() throws {
        let leafHashes = (0..<37).map { i in Self.leafHash([UInt8(i)]) }
        let nodes = Self.stored(leafHashes)
        let root = MerkleTree.root(size: 37) { nodes[$0]! }
        let path = MerkleTree.inclusionProof(leaf: 12, size: 37) { nodes[$0]! }
        try MerkleTree.verifyInclusion(
            leaf: 12, size: 37, leafHash: leafHashes[12], path: path, root: root)
        var flipped = path
        flipped[1] = .node(flipped[1], flipped[1])
        let attempts: [(UInt64, UInt64, MerkleHash, [MerkleHash])] = [
            (12, 37, leafHashes[13], path),  // another record
            (13, 37, leafHashes[12], path),  // another position
            (12, 16, leafHashes[12], path),  // a tree of another shape
            (12, 37, leafHashes[12], flipped),  // a changed sibling
            (12, 37, leafHashes[12], Array(path.dropLast())),  // too short
            (12, 37, leafHashes[12], path + [root]),  // too long
            (37, 37, leafHashes[12], path),  // outside the tree
        ]
        for (leaf, size, hash, p) in attempts {
            #expect(throws: MerkleTree.ProofFailure.self) {
                try MerkleTree.verifyInclusion(
                    leaf: leaf, size: size, leafHash: hash, path: p, root: root)
            }
        }
    }

    @Test func consistencyBetweenDifferentHistoriesIsRefused() throws {
        let original = (0..<20).map { i in Self.leafHash([UInt8(i)]) }
        var rewritten = original
        rewritten[3] = Self.leafHash([0xff])
        let a = Self.stored(original)
        let b = Self.stored(rewritten)
        let firstRoot = MerkleTree.root(size: 7) { a[$0]! }
        let secondRoot = MerkleTree.root(size: 20) { a[$0]! }
        let honest = MerkleTree.consistencyProof(first: 7, second: 20) { a[$0]! }
        try MerkleTree.verifyConsistency(
            first: 7, second: 20, firstRoot: firstRoot, secondRoot: secondRoot, proof: honest)
        // The rewritten history's own proof and roots do not connect to the original heads.
        let forged = MerkleTree.consistencyProof(first: 7, second: 20) { b[$0]! }
        let forgedSecond = MerkleTree.root(size: 20) { b[$0]! }
        #expect(throws: MerkleTree.ProofFailure.self) {
            try MerkleTree.verifyConsistency(
                first: 7, second: 20, firstRoot: firstRoot, secondRoot: forgedSecond, proof: forged)
        }
        #expect(throws: MerkleTree.ProofFailure.self) {
            try MerkleTree.verifyConsistency(
                first: 7, second: 20, firstRoot: firstRoot, secondRoot: secondRoot, proof: forged)
        }
        #expect(throws: MerkleTree.ProofFailure.self) {
            try MerkleTree.verifyConsistency(
                first: 20, second: 7, firstRoot: secondRoot, secondRoot: firstRoot, proof: honest)
        }
    }

    // MARK: Signed heads

    @Test func signedHeadsVerifyOnlyWithTheirKey() throws {
        let key = Curve25519.Signing.PrivateKey()
        let other = Curve25519.Signing.PrivateKey()
        let head = try SignedTreeHead(
            treeSize: 8, root: Self.h(Self.roots[8]), timestamp: 1_790_000_000_000_000,
            signingWith: key)
        try head.verify(with: key.publicKey)
        #expect(throws: SignedTreeHead.Refusal.self) { try head.verify(with: other.publicKey) }
        var forged = head
        forged.keyID = SignedTreeHead.keyID(of: other.publicKey)
        #expect(throws: SignedTreeHead.Refusal.self) { try forged.verify(with: other.publicKey) }
        var moved = head
        moved.treeSize = 9
        #expect(throws: SignedTreeHead.Refusal.self) { try moved.verify(with: key.publicKey) }
        let stored = head.payload.withUnsafeBytes { SignedTreeHead(payload: $0) }
        #expect(stored == head)
        #expect(SignedTreeHead(json: try JSONValue.parse(Array(head.json.utf8))) == head)
    }
}
