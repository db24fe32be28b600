#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

extension LMDBEnvironment {
    /// Below this many free bytes, an `EIO` from a commit is taken for a full filesystem.
    static let outOfSpaceThreshold = 1 << 20

    /// Whether the filesystem holding the environment is (almost) out of space.
    ///
    /// When a data page's `pwrite` is cut short because the disk filled up, LMDB answers `EIO`
    /// rather than `ENOSPC` (`mdb_page_flush` has no better code for a short write). Reading
    /// the free space right after tells the two apart, so that a full disk is reported as
    /// ``LMDBError/diskFull`` (free space and retry) and not as an I/O error.
    func isOutOfSpace() -> Bool {
        var stats = statvfs()
        guard statvfs(path, &stats) == 0 else { return false }
        return UInt64(stats.f_bavail) * UInt64(stats.f_frsize) < UInt64(Self.outOfSpaceThreshold)
    }
}
