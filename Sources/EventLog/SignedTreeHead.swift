import Crypto
import TextCoding

/// A tree head signed by the log's key: "the first ``treeSize`` records of this log have the
/// Merkle root ``root``", at ``timestamp``. Anyone with the public key can check it, and with
/// an inclusion or consistency proof, check a record or an older head against it, without
/// the log (RFC 9162 §4.10, in Tallystick's own encoding).
///
/// The server records each head it signs as an event of its own stream ``stream``, type
/// ``type``; the payload layout is in `eventlog/FORMAT.md` and never changes (a new layout
/// gets a new tag). Not to be confused with a projection's ``Checkpoint``.
public struct SignedTreeHead: Sendable, Equatable {
    /// The stream of signed tree heads. `$` is never in an instance id, so it cannot collide.
    public static let stream = "$tree-heads"
    /// The type tag of a signed tree head event.
    public static let type = "tree-head-signed.v1"
    static let layoutVersion: UInt8 = 1
    /// Payload size: layout, size, timestamp, root, key id, signature.
    static let payloadSize = 1 + 8 + 8 + 32 + 32 + 64
    /// What the signed bytes start with, so that no other message of the key could be
    /// mistaken for a tree head.
    static let domain = Array("tallystick tree head v1\0".utf8)

    /// Records covered: sequences 1 through this.
    public var treeSize: UInt64
    /// MTH of those records (``MerkleTree``).
    public var root: MerkleHash
    /// When it was signed: µs since the Unix epoch, from the signer's clock.
    public var timestamp: Int64
    /// SHA-256 of the raw 32-byte public key that signed it.
    public var keyID: [UInt8]
    /// Ed25519 signature (64 bytes) over ``signedBytes``.
    public var signature: [UInt8]

    public init(
        treeSize: UInt64, root: MerkleHash, timestamp: Int64, keyID: [UInt8], signature: [UInt8]
    ) {
        self.treeSize = treeSize
        self.root = root
        self.timestamp = timestamp
        self.keyID = keyID
        self.signature = signature
    }

    /// Signs the head of a tree of `treeSize` records with root `root`.
    /// - Throws: what swift-crypto's signing throws (it does not for a valid key).
    public init(
        treeSize: UInt64, root: MerkleHash, timestamp: Int64,
        signingWith key: Curve25519.Signing.PrivateKey
    ) throws {
        let message = SignedTreeHead.signedBytes(
            treeSize: treeSize, root: root, timestamp: timestamp)
        self.init(
            treeSize: treeSize, root: root, timestamp: timestamp,
            keyID: SignedTreeHead.keyID(of: key.publicKey),
            signature: Array(try key.signature(for: message)))
    }

    /// The key id of `key`: SHA-256 of its raw 32 bytes.
    public static func keyID(of key: Curve25519.Signing.PublicKey) -> [UInt8] {
        Array(SHA256.hash(data: key.rawRepresentation))
    }

    /// The bytes the signature covers: the domain text (with its NUL), then the tree size and
    /// timestamp as big-endian 64-bit integers, then the root.
    public static func signedBytes(treeSize: UInt64, root: MerkleHash, timestamp: Int64)
        -> [UInt8]
    {
        var out = domain
        withUnsafeBytes(of: treeSize.bigEndian) { out.append(contentsOf: $0) }
        withUnsafeBytes(of: timestamp.bigEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: root.bytes)
        return out
    }

    /// Why a signed tree head is refused.
    public struct Refusal: Error, Equatable, Sendable, CustomStringConvertible {
        public var reason: String
        public init(_ reason: String) { self.reason = reason }
        public var description: String { reason }
    }

    /// Checks the signature with `key`.
    /// - Throws: ``Refusal``: signed by another key, or the signature does not match.
    public func verify(with key: Curve25519.Signing.PublicKey) throws(Refusal) {
        guard keyID == SignedTreeHead.keyID(of: key) else {
            throw Refusal(
                "the tree head of size \(treeSize) was signed by key \(Hex.encode(keyID)), not by key \(Hex.encode(SignedTreeHead.keyID(of: key)))"
            )
        }
        let message = SignedTreeHead.signedBytes(
            treeSize: treeSize, root: root, timestamp: timestamp)
        guard key.isValidSignature(signature, for: message) else {
            throw Refusal("the signature of the tree head of size \(treeSize) does not match")
        }
    }

    // MARK: Stored payload

    /// The event payload (layout in `eventlog/FORMAT.md`): u8 layout (1), u64 LE tree size,
    /// i64 LE timestamp, 32-byte root, 32-byte key id, 64-byte signature.
    public var payload: [UInt8] {
        var out = [SignedTreeHead.layoutVersion]
        out.reserveCapacity(SignedTreeHead.payloadSize)
        withUnsafeBytes(of: treeSize.littleEndian) { out.append(contentsOf: $0) }
        withUnsafeBytes(of: timestamp.littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: root.bytes)
        out.append(contentsOf: keyID)
        out.append(contentsOf: signature)
        return out
    }

    /// Reads a payload written by ``payload``; `nil` for anything else.
    public init?(payload: UnsafeRawBufferPointer) {
        guard payload.count == SignedTreeHead.payloadSize,
            payload[0] == SignedTreeHead.layoutVersion
        else { return nil }
        treeSize = UInt64(littleEndian: payload.loadUnaligned(fromByteOffset: 1, as: UInt64.self))
        timestamp = Int64(littleEndian: payload.loadUnaligned(fromByteOffset: 9, as: Int64.self))
        root = MerkleHash(bytes: UnsafeRawBufferPointer(rebasing: payload[17..<49]))
        keyID = Array(payload[49..<81])
        signature = Array(payload[81..<145])
    }

    /// ``init(payload:)`` for a record: `nil` unless it is a signed tree head event.
    public init?(record: EventRecord) {
        guard record.type == SignedTreeHead.type, record.stream == SignedTreeHead.stream else {
            return nil
        }
        guard let head = record.payload.withUnsafeBytes({ SignedTreeHead(payload: $0) }) else {
            return nil
        }
        self = head
    }

    // MARK: JSON

    /// The JSON object of a signed head, for `tree-heads`, proof bundles and `/audit`:
    /// `{"tree_size","root_hash","timestamp_us","key_id","signature"}`, hashes in hex.
    public var json: String {
        JSONWriter.object { w in
            w.number("tree_size", treeSize)
            w.string("root_hash", root.hex)
            w.number("timestamp_us", timestamp)
            w.string("key_id", Hex.encode(keyID))
            w.string("signature", Hex.encode(signature))
        }
    }

    /// Reads the object of ``json``; `nil` when a field is missing or malformed.
    public init?(json: JSONValue) {
        guard let size = json["tree_size"]?.unsignedInteger,
            case .string(let rootHex)? = json["root_hash"], let root = MerkleHash(hex: rootHex),
            let timestamp = json["timestamp_us"]?.integer,
            case .string(let keyHex)? = json["key_id"], let keyID = Hex.decode(keyHex),
            keyID.count == 32,
            case .string(let signatureHex)? = json["signature"],
            let signature = Hex.decode(signatureHex), signature.count == 64
        else { return nil }
        self.init(
            treeSize: size, root: root, timestamp: timestamp, keyID: keyID, signature: signature)
    }
}
