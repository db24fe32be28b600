import Crypto

/// A SHA-256 value of the Merkle tree over the log (RFC 9162 §2.1.1), stored inline like
/// ``ChainHash`` (``InlineSHA256``): a leaf hash, an interior node or a root.
///
/// The tree's leaves are the records' chain hashes (``ChainHash``):
///
///     leaf hash(n) = SHA-256(0x00 ‖ hash(n))          (32 + 1 bytes hashed)
///     node(l, r)   = SHA-256(0x01 ‖ l ‖ r)
///
/// A chain hash already covers its record's canonical bytes and everything before it, so the
/// tree needs no second read of the records; `eventlog/FORMAT.md` says why it was chosen.
public struct MerkleHash: InlineSHA256 {
    public var w0, w1, w2, w3: UInt64

    public init(w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64) {
        (self.w0, self.w1, self.w2, self.w3) = (w0, w1, w2, w3)
    }

    /// SHA-256 of `data` as it is (the empty tree's root is the hash of no bytes).
    public static func sha256(_ data: some Sequence<UInt8>) -> MerkleHash {
        SHA256.hash(data: Array(data)).withUnsafeBytes { MerkleHash(bytes: $0) }
    }

    /// The root of the empty tree: SHA-256 of no bytes.
    public static let emptyRoot = sha256([])

    /// The hash of the leaf whose data is `leaf` (RFC 9162: SHA-256(0x00 ‖ leaf)).
    public static func leaf(_ leaf: UnsafeRawBufferPointer) -> MerkleHash {
        var hasher = SHA256()
        withUnsafeBytes(of: UInt8(0)) { hasher.update(bufferPointer: $0) }
        hasher.update(bufferPointer: leaf)
        return hasher.finalize().withUnsafeBytes { MerkleHash(bytes: $0) }
    }

    /// The leaf hash of a record: its chain hash is the leaf.
    ///
    /// This and ``node(_:_:)`` hash one buffer built on the stack, with one update: `verify
    /// --public-key` computes two of them per record, and each call into the hasher costs
    /// about as much as hashing the 33 or 65 bytes.
    public static func leaf(record hash: ChainHash) -> MerkleHash {
        withUnsafeTemporaryAllocation(byteCount: 33, alignment: 8) { buffer in
            buffer[0] = 0
            hash.withBytes {
                UnsafeMutableRawBufferPointer(rebasing: buffer[1..<33]).copyMemory(from: $0)
            }
            var hasher = SHA256()
            hasher.update(bufferPointer: UnsafeRawBufferPointer(buffer))
            return hasher.finalize().withUnsafeBytes { MerkleHash(bytes: $0) }
        }
    }

    /// The interior node over `left` and `right` (RFC 9162: SHA-256(0x01 ‖ left ‖ right)).
    public static func node(_ left: MerkleHash, _ right: MerkleHash) -> MerkleHash {
        withUnsafeTemporaryAllocation(byteCount: 65, alignment: 8) { buffer in
            buffer[0] = 1
            left.withBytes {
                UnsafeMutableRawBufferPointer(rebasing: buffer[1..<33]).copyMemory(from: $0)
            }
            right.withBytes {
                UnsafeMutableRawBufferPointer(rebasing: buffer[33..<65]).copyMemory(from: $0)
            }
            var hasher = SHA256()
            hasher.update(bufferPointer: UnsafeRawBufferPointer(buffer))
            return hasher.finalize().withUnsafeBytes { MerkleHash(bytes: $0) }
        }
    }
}
