import Crypto
import EventLog
import Foundation
import TextCoding

/// The log's Ed25519 signing key, which signs its tree heads (``SignedTreeHead``).
///
/// The private key is 32 random bytes in ``keyFileName`` of the key directory (`0600`, made
/// at the server's first start like `tan.key`); only its public half ever leaves this type:
/// ``publicKeyHex`` for `tallystick-log public-key`, ``keyID`` in each signed head. Its
/// description names the key id alone, so logging a signer never logs the key.
public struct TreeHeadSigner: Sendable, CustomStringConvertible {
    /// The key file's name in the key directory.
    public static let keyFileName = "tree-head.key"

    private let key: Curve25519.Signing.PrivateKey

    /// A signer with the key whose 32 raw bytes are `rawKey`.
    /// - Throws: swift-crypto's `CryptoKitError` when `rawKey` is not 32 bytes.
    public init(rawKey: [UInt8]) throws {
        key = try Curve25519.Signing.PrivateKey(rawRepresentation: rawKey)
    }

    /// The public key that checks this signer's heads.
    public var publicKey: Curve25519.Signing.PublicKey { key.publicKey }

    /// The public key as 64 hex digits: what `--public-key` takes.
    public var publicKeyHex: String { Hex.encode(key.publicKey.rawRepresentation) }

    /// SHA-256 of the public key, as each signed head names it.
    public var keyID: [UInt8] { SignedTreeHead.keyID(of: key.publicKey) }

    /// Signs the head of the tree of `size` records with root `root` at `now` (µs).
    public func sign(size: UInt64, root: MerkleHash, now: Int64) throws -> SignedTreeHead {
        try SignedTreeHead(treeSize: size, root: root, timestamp: now, signingWith: key)
    }

    public var description: String { "TreeHeadSigner(key id \(Hex.encode(keyID)))" }

    /// Reads a public key: 64 hex digits, or a file holding them (what
    /// `tallystick-log public-key` prints); `nil` for anything else.
    public static func publicKey(hex text: String) -> Curve25519.Signing.PublicKey? {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard trimmed.utf8.count == 64, let bytes = Hex.decode(trimmed) else { return nil }
        return try? Curve25519.Signing.PublicKey(rawRepresentation: bytes)
    }
}
