import Crypto
import TextCoding

/// A self-contained proof that one record is in the log: the record's stored bytes, its
/// audit path, and the signed head of the tree it was proved against. Whoever holds the
/// log's public key checks it with ``check(with:)`` and nothing else: no log, no server.
///
/// JSON (``json``, read back by ``init(json:)``):
/// `{"version":1,"sequence","tree_size","record_hex","audit_path":[hex…],"tree_head":{…}}`,
/// the tree head as ``SignedTreeHead/json``.
public struct InclusionProof: Sendable, Equatable {
    public static let version = 1

    /// The record's stored bytes (`eventlog/FORMAT.md`, "A record"), its hash included.
    public var record: [UInt8]
    /// The sibling hashes from the record's leaf up to the root, nearest first.
    public var auditPath: [MerkleHash]
    /// The head the path leads to.
    public var treeHead: SignedTreeHead

    public init(record: [UInt8], auditPath: [MerkleHash], treeHead: SignedTreeHead) {
        self.record = record
        self.auditPath = auditPath
        self.treeHead = treeHead
    }

    /// Checks the whole proof: the head's signature with `key`, the record's own hash (its
    /// chain hash is the SHA-256 of the previous hash and its bytes), and that its leaf with
    /// the audit path leads to the signed root. Returns the record.
    /// - Throws: ``SignedTreeHead/Refusal`` naming the first thing that does not hold.
    public func check(with key: Curve25519.Signing.PublicKey) throws(SignedTreeHead.Refusal)
        -> EventRecord
    {
        try treeHead.verify(with: key)
        let view: EventRecord
        let problem: String? = record.withUnsafeBytes { raw in
            guard let v = try? RecordCodec.view(raw) else { return "it does not decode" }
            return RecordCodec.verifyHash(v, previous: v.previousHash)
        }
        if let problem {
            throw SignedTreeHead.Refusal("the record does not check: \(problem)")
        }
        guard let decoded = record.withUnsafeBytes({ try? RecordCodec.view($0).copy() }) else {
            throw SignedTreeHead.Refusal("the record does not check: it does not decode")
        }
        view = decoded
        guard view.sequence >= 1 else { throw SignedTreeHead.Refusal("the record has sequence 0") }
        do {
            try MerkleTree.verifyInclusion(
                leaf: view.sequence - 1, size: treeHead.treeSize,
                leafHash: .leaf(record: view.hash), path: auditPath, root: treeHead.root)
        } catch {
            throw SignedTreeHead.Refusal(
                "record \(view.sequence) is not in the signed tree of size \(treeHead.treeSize): \(error.reason)"
            )
        }
        return view
    }

    /// The stored bytes of `record` (the format is deterministic: encoding its fields again
    /// gives exactly the bytes stored, hash included).
    public static func bytes(of record: EventRecord) -> [UInt8] {
        RecordCodec.encode(
            sequence: record.sequence, stream: record.stream, streamVersion: record.streamVersion,
            recordedAt: record.recordedAt,
            event: ProposedEvent(id: record.eventID, type: record.type, payload: record.payload),
            previousHash: record.previousHash
        ).bytes
    }

    /// The record's sequence as its bytes say (0 when they do not decode).
    public var sequence: UInt64 {
        (try? record.withUnsafeBytes { try RecordCodec.view($0).sequence }) ?? 0
    }

    public var json: String {
        JSONWriter.object { w in
            w.number("version", InclusionProof.version)
            w.number("sequence", sequence)
            w.number("tree_size", treeHead.treeSize)
            w.string("record_hex", Hex.encode(record))
            w.raw("audit_path", MerkleHash.jsonArray(auditPath))
            w.raw("tree_head", treeHead.json)
        }
    }

    /// Reads ``json``; `nil` when it is not such a document.
    public init?(json: JSONValue) {
        guard json["version"]?.integer == Int64(InclusionProof.version),
            case .string(let recordHex)? = json["record_hex"],
            let record = Hex.decode(recordHex),
            let path = json["audit_path"].flatMap(MerkleHash.array(json:)),
            let head = json["tree_head"].flatMap(SignedTreeHead.init(json:))
        else { return nil }
        self.init(record: record, auditPath: path, treeHead: head)
    }
}

extension MerkleHash {
    /// A JSON array of hex strings.
    public static func jsonArray(_ hashes: [MerkleHash]) -> String {
        "[" + hashes.map { "\"\($0.hex)\"" }.joined(separator: ",") + "]"
    }

    /// Reads ``jsonArray(_:)``; `nil` unless every item is a 64-digit hex string.
    public static func array(json: JSONValue) -> [MerkleHash]? {
        guard case .array(let items) = json else { return nil }
        var out = [MerkleHash]()
        for item in items {
            guard case .string(let text) = item, let hash = MerkleHash(hex: text) else {
                return nil
            }
            out.append(hash)
        }
        return out
    }
}
