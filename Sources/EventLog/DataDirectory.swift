import Foundation
import LMDB

#if canImport(Glibc)
    import Glibc
#endif

/// Who may touch the directory that holds a log (spec §10.6).
///
/// The log holds scrypt salts and hashes, e-mail addresses and phone numbers, and `tan.key`
/// sits beside it: only the server's user may read them. So a writer creates its directory
/// `0700` and every file in it `0600` whatever the umask (``LMDBEnvironment/directoryMode``,
/// ``LMDBEnvironment/fileMode``), and refuses a directory that group or others can write
/// (they could swap the files under it). A directory they can only read or enter is used,
/// with a warning: its files may predate these rules (`0644`), and `chmod 700` fixes both.
public enum DataDirectory {
    /// Creates `path` when it is missing (and its missing parents, as `mkdir -p` would, all
    /// `0700` whatever the umask) and checks the mode of an existing one. Symbolic links are
    /// followed. Each directory it creates is made durable (its parent flushed, outermost
    /// first) before it returns: a power cut afterwards cannot take the directory, and the
    /// log in it, away.
    /// - Returns: a one-line warning naming the path, its mode and the fix when group or
    ///   others can read or enter the directory; `nil` when only its owner can.
    /// - Throws: ``EventLogError/unsafeDirectory(path:mode:)`` when group or others can write
    ///   it (fix the mode and retry); ``EventLogError/storage(_:)`` when it cannot be created
    ///   or inspected, or is not a directory.
    public static func prepare(_ path: String) throws(EventLogError) -> String? {
        var info = stat()
        if stat(path, &info) != 0 {
            guard errno == ENOENT else { throw .storage("cannot inspect \(path): \(lastError())") }
            let parents = createParents(of: path)
            if mkdir(path, LMDBEnvironment.directoryMode) == 0 {
                chmod(path, LMDBEnvironment.directoryMode)
                for created in parents + [path] {
                    let parent = (created as NSString).deletingLastPathComponent
                    let code = LMDBEnvironment.flushDirectory(parent.isEmpty ? "." : parent)
                    guard code == 0 else {
                        throw .storage("cannot flush \(parent): \(String(cString: strerror(code)))")
                    }
                }
                return nil
            }
            guard errno == EEXIST, stat(path, &info) == 0 else {
                throw .storage("cannot create \(path): \(lastError())")
            }
        }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            throw .storage("\(path) is not a directory")
        }
        let mode = UInt32(info.st_mode & 0o7777)
        if mode & 0o022 != 0 { throw .unsafeDirectory(path: path, mode: mode) }
        if mode & 0o055 != 0 {
            return "group or others can read the data directory \(path) (mode \(octal(mode))); "
                + "run: chmod 700 \(path)"
        }
        return nil
    }

    /// Makes the file `path` (mode `0600`) holding `bytes`, whole or not at all, and durable
    /// before it returns (``LMDBEnvironment/createWhole(_:bytes:mode:)``): for keys and other
    /// files whose loss or truncation by a power cut would stop the server or void what the
    /// log already relies on.
    /// - Returns: `false` when a file was already at `path` (it is left as it was: read it).
    /// - Throws: ``EventLogError/storage(_:)`` naming the path when it cannot be written.
    public static func createFile(_ path: String, bytes: [UInt8]) throws(EventLogError) -> Bool {
        do {
            return try LMDBEnvironment.createWhole(
                path, bytes: bytes, mode: LMDBEnvironment.fileMode)
        } catch {
            throw .storage("cannot write \(path): \(error)")
        }
    }

    /// Creates the missing ancestors of `path`, outermost first, each `0700`; failures are
    /// left to the `mkdir` of `path` itself to report. Returns those it created, outermost
    /// first.
    private static func createParents(of path: String) -> [String] {
        var missing = [String]()
        var parent = (path as NSString).deletingLastPathComponent
        while !parent.isEmpty, parent != "/", access(parent, F_OK) != 0 {
            missing.append(parent)
            parent = (parent as NSString).deletingLastPathComponent
        }
        var created = [String]()
        for directory in missing.reversed()
        where mkdir(directory, LMDBEnvironment.directoryMode) == 0 {
            chmod(directory, LMDBEnvironment.directoryMode)
            created.append(directory)
        }
        return created
    }

    /// `0755` for 0o755.
    static func octal(_ mode: UInt32) -> String {
        let digits = String(mode, radix: 8)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    private static func lastError() -> String { String(cString: strerror(errno)) }
}
