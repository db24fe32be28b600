import Crypto
import Foundation
import Synchronization
import TokenDomain

/// The backend credentials (spec §9): per instance, the secret with which the reverse proxy
/// reaches the merchant backend after Tallystick allowed a request. The client never sees
/// one; the merchant never sees a Tallystick token.
///
/// Secrets, so they never reach the log: they live in `backend-credentials` in the data
/// directory (mode `0600`, one `INSTANCE SECRET` line each, rewritten whole through a
/// temporary file and a rename), and the log records only their fingerprints
/// (``BackendCredentialSet``). A credential counts only while its fingerprint is the one the
/// log holds for the instance (``TokenEngine/backendCredential(for:)``): an edit of the file
/// by hand, or a crash between the file and the log, leaves the instance without one until
/// the operator sets it again, never with one the log does not vouch for.
public final class BackendCredentialStore: Sendable {
    public static let fileName = "backend-credentials"

    /// The file, or `nil` for a store kept in memory only (tests).
    public let path: String?
    /// Each instance's secret with its fingerprint, computed once (a forward-auth check
    /// compares it with the log's on every allowed request).
    private let secrets: Mutex<[InstanceID: Kept]>

    struct Kept: Sendable {
        let secret: String
        let fingerprint: BackendCredentialFingerprint

        init(_ secret: String) {
            self.secret = secret
            fingerprint = BackendCredentialStore.fingerprint(of: secret)
        }
    }

    /// Why the file cannot be used. Never holds a secret.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// A store in memory only.
    public init() {
        path = nil
        secrets = Mutex([:])
    }

    /// The store of the data directory `directory`, read from its file (none yet: empty).
    /// - Throws: ``Failure`` naming the file when it cannot be read, when group or others
    ///   may read or write it (wider than `0600`), or when a line is malformed.
    public init(directory: String) throws(Failure) {
        let path = (directory as NSString).appendingPathComponent(Self.fileName)
        self.path = path
        var info = stat()
        guard lstat(path, &info) == 0 else {
            guard errno == ENOENT else {
                throw Failure(
                    description: "cannot read \(path): \(String(cString: strerror(errno)))")
            }
            secrets = Mutex([:])
            return
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw Failure(description: "\(path) is not a regular file")
        }
        let mode = UInt32(info.st_mode) & 0o777
        guard mode & 0o077 == 0 else {
            throw Failure(
                description:
                    "\(path) has mode \(String(mode, radix: 8)); backend credentials must be 0600 (chmod 600 \(path))"
            )
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Failure(description: "cannot read \(path)")
        }
        var loaded: [InstanceID: Kept] = [:]
        for (number, line) in String(decoding: data, as: UTF8.self)
            .split(separator: "\n", omittingEmptySubsequences: true).enumerated()
        {
            let parts = line.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, let id = InstanceID(String(parts[0])),
                Self.isUsable(String(parts[1]))
            else {
                throw Failure(description: "\(path):\(number + 1): expected INSTANCE SECRET")
            }
            loaded[id] = Kept(String(parts[1]))
        }
        secrets = Mutex(loaded)
    }

    /// The secret kept for `instance`, whether or not the log vouches for it.
    func secret(for instance: InstanceID) -> String? {
        kept(for: instance)?.secret
    }

    /// The secret kept for `instance` with its fingerprint.
    func kept(for instance: InstanceID) -> Kept? {
        secrets.withLock { $0[instance] }
    }

    /// Every instance with a secret in the file, sorted.
    func instances() -> [InstanceID] {
        secrets.withLock { $0.keys.sorted() }
    }

    /// Sets (`secret` non-nil) or removes the secret of `instance` and rewrites the file.
    /// - Throws: ``Failure`` when the file cannot be written; the store is then unchanged.
    func update(_ instance: InstanceID, to secret: String?) throws(Failure) {
        var next = secrets.withLock { $0 }
        next[instance] = secret.map(Kept.init)
        if let path { try Self.save(next, to: path) }
        secrets.withLock { $0 = next }
    }

    /// What a credential may be: what follows `secret-token:` in the merchant's
    /// `Authorization` header, 1 to 512 printable ASCII characters without spaces.
    public static func isUsable(_ secret: String) -> Bool {
        (1...512).contains(secret.utf8.count)
            && secret.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }

    /// The fingerprint the log records: the first 8 bytes of the secret's SHA-256.
    public static func fingerprint(of secret: String) -> BackendCredentialFingerprint {
        let digest = Array(SHA256.hash(data: Array(secret.utf8)))
        return BackendCredentialFingerprint(
            bytes: Array(digest.prefix(BackendCredentialFingerprint.byteCount)))!
    }

    /// Writes `secrets` to a new `0600` file beside `path`, flushes it, renames it over
    /// `path` and flushes the directory: a crash leaves the old file or the new one.
    private static func save(_ secrets: [InstanceID: Kept], to path: String) throws(Failure) {
        let temporary = path + ".new"
        unlink(temporary)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Failure(description: "cannot create \(temporary)") }
        let text = secrets.keys.sorted().map { "\($0.rawValue) \(secrets[$0]!.secret)\n" }.joined()
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let flushed = written == bytes.count && fchmod(fd, 0o600) == 0 && fsync(fd) == 0
        close(fd)
        guard flushed, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw Failure(description: "cannot write \(path)")
        }
        let directory = open((path as NSString).deletingLastPathComponent, O_RDONLY | O_CLOEXEC)
        if directory >= 0 {
            fsync(directory)
            close(directory)
        }
    }
}
