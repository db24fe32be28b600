import CLMDB

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// What makes a file's existence survive a power cut, not only its bytes.
///
/// `fsync` of a file makes its data durable, not the directory entry that names it: a file
/// or directory that was created, renamed or removed is durable only once the directory that
/// holds it has been flushed too (POSIX; ext4 happens to commit both together most of the
/// time, other file systems do not). The power-cut fault (`tools/fire`, RELIABILITY.md)
/// rebuilds every state a cut could leave and found each place below that skipped it.
extension LMDBEnvironment {
    /// Flushes the directory `path` (its entries: files created, renamed or removed in it).
    /// - Returns: 0, or the `errno` of the open or the `fsync` that failed.
    public static func flushDirectory(_ path: String) -> Int32 {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return errno }
        defer { _ = closeDescriptor(fd) }
        return fsync(fd) == 0 ? 0 : errno
    }

    /// Writes `bytes` to a new file at `path` so that a power cut leaves no file there or the
    /// whole one, never a part: into `path.new` (mode `mode`, a stale one from an earlier cut
    /// removed first), flushed, linked to `path` (which fails, rather than replace it, when
    /// another process made one first), then the directory flushed.
    /// - Returns: `true` when this call made the file, `false` when one was already there
    ///   (read it).
    /// - Throws: ``LMDBError`` with the `errno` of the step that failed; nothing is left at
    ///   `path` then.
    public static func createWhole(_ path: String, bytes: [UInt8], mode: mode_t) throws(LMDBError)
        -> Bool
    {
        let temporary = path + ".new"
        unlink(temporary)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw LMDBError(code: errno) }
        var rc: Int32 = fchmod(fd, mode) == 0 ? 0 : errno  // the umask may have taken bits
        if rc == 0 {
            let written = bytes.withUnsafeBytes { writeDescriptor(fd, $0.baseAddress, $0.count) }
            if written != bytes.count { rc = written < 0 ? errno : EIO }
        }
        if rc == 0, fsync(fd) != 0 { rc = errno }
        if closeDescriptor(fd) != 0, rc == 0 { rc = errno }
        var made = false
        if rc == 0 {
            if link(temporary, path) == 0 {
                made = true
            } else if errno != EEXIST {
                rc = errno
            }
        }
        unlink(temporary)
        if rc == 0 { rc = flushDirectory(parentDirectory(of: path)) }
        try LMDBError.check(rc)
        return made
    }

    /// The directory holding `path` (`.` for a bare name).
    static func parentDirectory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}

/// `write(2)`, named apart from ``LMDBEnvironment/write(_:)``.
private func writeDescriptor(_ fd: Int32, _ bytes: UnsafeRawPointer?, _ count: Int) -> Int {
    write(fd, bytes, count)
}
