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

    static func loadOrCreate(_ file: SecretKeyFile, in directory: String) throws -> [UInt8] {
        let path = (directory as NSString).appendingPathComponent(file.rawValue)
        if let data = FileManager.default.contents(atPath: path) {
            guard data.count == 32 else {
                throw ServerSettings.Invalid(
                    description:
                        "\(path) must hold exactly 32 bytes (move it away to make a new one)")
            }
            return Array(data)
        }
        try FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700])
        let key = TANCodes.randomKey()
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else {
            throw ServerSettings.Invalid(description: "cannot create \(path)")
        }
        defer { close(fd) }
        fchmod(fd, 0o600)  // the umask may have taken the owner's bits
        let written = key.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == key.count, fsync(fd) == 0 else {
            throw ServerSettings.Invalid(description: "cannot write \(path)")
        }
        return key
    }
}
