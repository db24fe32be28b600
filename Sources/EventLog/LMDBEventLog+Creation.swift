import Foundation
import LMDB

#if canImport(Glibc)
    import Glibc
#endif

extension LMDBEventLog {
    /// The directory, inside a data directory, where a new log is made before it takes its
    /// place; a power cut can leave one behind, which the next creation removes.
    static let stagingName = ".new-log"

    /// Makes a new, empty log in `directory` so that a power cut leaves either no `data.mdb`
    /// there or a whole log (its databases and format marker), which every tool opens.
    ///
    /// LMDB writes the two meta pages of a new file without flushing them, and the log's
    /// databases and format marker take several transactions after that: a cut in between
    /// left a file `verify` refused ("LMDB database 'records' does not exist"), or, with a
    /// torn meta page, one no open accepts (`MDB_INVALID`). So the log is made in
    /// ``stagingName``, flushed, renamed into `directory` and `directory` flushed.
    /// Called with the writer lock held, so no other process makes one at the same time.
    /// - Throws: ``LMDBError`` or ``EventLogError`` when the staging log cannot be made,
    ///   flushed or moved; nothing is left at `directory/data.mdb` then.
    static func createWhole(directory: String, options: LMDBEnvironment.Options) throws {
        let staging = directory + "/" + stagingName
        removeStaging(staging)
        guard mkdir(staging, LMDBEnvironment.directoryMode) == 0 else {
            throw EventLogError.storage(
                "cannot create \(staging): \(String(cString: strerror(errno)))")
        }
        defer { removeStaging(staging) }
        let env = try LMDBEnvironment(path: staging, options: options)
        do {
            _ = try openDatabases(env: env, writable: true)
            try env.sync()
        } catch {
            env.close()
            throw error
        }
        env.close()
        guard rename(staging + "/data.mdb", directory + "/data.mdb") == 0 else {
            throw EventLogError.storage(
                "cannot move the new log into \(directory): \(String(cString: strerror(errno)))")
        }
        let code = LMDBEnvironment.flushDirectory(directory)
        guard code == 0 else {
            throw EventLogError.storage(
                "cannot flush \(directory): \(String(cString: strerror(code)))")
        }
    }

    private static func removeStaging(_ staging: String) {
        for name in ["data.mdb", "lock.mdb"] { unlink(staging + "/" + name) }
        rmdir(staging)
    }
}
