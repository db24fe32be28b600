import Crypto
import TextCoding

/// A self-contained proof that one signed tree head extends another: both heads and the
/// RFC 9162 consistency path between them. ``check(with:)`` needs only the public key.
///
/// JSON: `{"version":1,"first":{head},"second":{head},"proof":[hex…]}`.
public struct ConsistencyProof: Sendable, Equatable {
    public static let version = 1

    public var first: SignedTreeHead
    public var second: SignedTreeHead
    public var proof: [MerkleHash]

    public init(first: SignedTreeHead, second: SignedTreeHead, proof: [MerkleHash]) {
        self.first = first
        self.second = second
        self.proof = proof
    }

    /// Checks both signatures with `key` and that the second tree extends the first.
    /// - Throws: ``SignedTreeHead/Refusal`` naming what does not hold.
    public func check(with key: Curve25519.Signing.PublicKey) throws(SignedTreeHead.Refusal) {
        try first.verify(with: key)
        try second.verify(with: key)
        do {
            try MerkleTree.verifyConsistency(
                first: first.treeSize, second: second.treeSize, firstRoot: first.root,
                secondRoot: second.root, proof: proof)
        } catch {
            throw SignedTreeHead.Refusal(
                "the tree of size \(second.treeSize) does not extend the tree of size \(first.treeSize): \(error.reason)"
            )
        }
    }

    public var json: String {
        JSONWriter.object { w in
            w.number("version", ConsistencyProof.version)
            w.raw("first", first.json)
            w.raw("second", second.json)
            w.raw("proof", MerkleHash.jsonArray(proof))
        }
    }

    /// Reads ``json``; `nil` when it is not such a document.
    public init?(json: JSONValue) {
        guard json["version"]?.integer == Int64(ConsistencyProof.version),
            let first = json["first"].flatMap(SignedTreeHead.init(json:)),
            let second = json["second"].flatMap(SignedTreeHead.init(json:)),
            let proof = json["proof"].flatMap(MerkleHash.array(json:))
        else { return nil }
        self.init(first: first, second: second, proof: proof)
    }
}
