import EventLog
import Foundation
import TokenEngine

/// A key of 32 random bytes beside the event log, readable by the server's user only
/// (`0600`), made at first use. Not in the log on purpose: the log must not hold what would
/// undo its protections.
enum SecretKeyFile: String {
    /// `tan.key`: the key of TAN hashes. With it, the hash of an 8-digit code could be
    /// reversed by trying every code.
    case tan = "tan.key"
    /// `merchant.key`: the key from which the merchant passwords of instances kept in step
    /// are derived (``MerchantBackend``). With it, they could be computed.
    case merchant = "merchant.key"
    /// `tree-head.key`: the Ed25519 private key (its 32 raw bytes) that signs the log's tree
    /// heads (``TreeHeadSigner``, whose `keyFileName` a test keeps equal to this). With it,
    /// anyone could sign a rewritten history.
    case treeHead = "tree-head.key"

    /// Reads the key, or makes it when there is none. A new key appears whole or not at all,
    /// and is durable (its directory flushed) before it is used: a power cut can neither leave
    /// a part of one (which would stop every later start) nor take away a key that already
    /// signed a tree head or keyed a TAN (``DataDirectory/createFile(_:bytes:)``).
    /// When two servers sharing a key directory make one at once, both use the first.
    static func loadOrCreate(_ file: SecretKeyFile, in directory: String) throws -> [UInt8] {
        let path = (directory as NSString).appendingPathComponent(file.rawValue)
        if let key = try read(path) { return key }
        try FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700])
        let key = TANCodes.randomKey()
        let made: Bool
        do {
            made = try DataDirectory.createFile(path, bytes: key)
        } catch {
            throw ServerSettings.Invalid(description: "\(error)")
        }
        if made { return key }
        guard let theirs = try read(path) else {
            throw ServerSettings.Invalid(description: "cannot read \(path)")
        }
        return theirs
    }

    /// The key at `path`; `nil` when there is no file.
    private static func read(_ path: String) throws -> [UInt8]? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        guard data.count == 32 else {
            throw ServerSettings.Invalid(
                description: "\(path) must hold exactly 32 bytes (move it away to make a new one)")
        }
        return Array(data)
    }
}
