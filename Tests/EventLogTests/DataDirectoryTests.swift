import EventLogTestSupport
import Foundation
import LMDB
import Testing

@testable import EventLog

/// Spec §10.6: the log's directory is its owner's alone. (Modes under other umasks are checked
/// by the `files` fault and `LiveFileModeTests`, in child processes: the umask is per process
/// and these tests run in parallel.)
@Suite("Data directory")
struct DataDirectoryTests {
    static func mode(_ path: String) throws -> Int {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        return try #require(attributes[.posixPermissions] as? Int)
    }

    @Test func aNewLogIsItsOwnersAlone() async throws {
        let tmp = try TemporaryDirectory(prefix: "modes")
        defer { tmp.remove() }
        let dir = tmp.appending("parent/log")
        let log = try LMDBEventLog.open(LMDBEventLog.Configuration(directory: dir))
        #expect(log.directoryWarning == nil)
        _ = try await log.append(
            to: "shop", expecting: .noStream,
            events: [ProposedEvent(type: "a.v1", payload: Array("x".utf8))])
        await log.close()
        #expect(try Self.mode(dir) == 0o700)
        #expect(try Self.mode(tmp.appending("parent")) == 0o700)
        let names = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
        #expect(names == ["data.mdb", "lock.mdb", "writer.lock"])
        for name in names {
            #expect(try Self.mode(dir + "/" + name) == 0o600, "\(name)")
        }
    }

    @Test(arguments: [0o777, 0o770, 0o702, 0o1777, 0o720])
    func aDirectoryOthersCanWriteIsRefused(mode: Int) async throws {
        let tmp = try TemporaryDirectory(prefix: "unsafe")
        defer { tmp.remove() }
        let dir = tmp.appending("log")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
        chmod(dir, mode_t(mode))
        let expected = EventLogError.unsafeDirectory(path: dir, mode: UInt32(mode))
        #expect(throws: expected) {
            _ = try LMDBEventLog.open(LMDBEventLog.Configuration(directory: dir))
        }
        #expect(expected.description.contains("run: chmod 700 \(dir)"))
        #expect(expected.description.contains("(mode \(DataDirectory.octal(UInt32(mode))))"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty)
    }

    @Test(arguments: [0o755, 0o750, 0o701, 0o744])
    func aDirectoryOthersCanReadIsUsedWithAWarning(mode: Int) async throws {
        let tmp = try TemporaryDirectory(prefix: "readable")
        defer { tmp.remove() }
        let dir = tmp.appending("log")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
        chmod(dir, mode_t(mode))
        let log = try LMDBEventLog.open(LMDBEventLog.Configuration(directory: dir))
        let warning = try #require(log.directoryWarning)
        #expect(warning.contains("\(dir) (mode 0\(String(mode, radix: 8)))"))
        #expect(warning.contains("chmod 700"))
        await log.close()
        #expect(try Self.mode(dir) == mode)
        #expect(try Self.mode(dir + "/data.mdb") == 0o600)
    }

    @Test func aReadOnlyOpenNeitherChecksNorWarns() async throws {
        let tmp = try TemporaryDirectory(prefix: "readonly")
        defer { tmp.remove() }
        let dir = tmp.appending("log")
        await (try LMDBEventLog.open(LMDBEventLog.Configuration(directory: dir))).close()
        chmod(dir, 0o755)
        let log = try LMDBEventLog.openReadOnly(directory: dir)
        #expect(log.directoryWarning == nil)
        await log.close()
    }

    @Test func aCopyIsItsOwnersAlone() throws {
        let tmp = try TemporaryDirectory(prefix: "copy")
        defer { tmp.remove() }
        let env = try LMDBEnvironment(path: tmp.appending("env"))
        let db = try env.openDatabase("things")
        try env.write { txn in try txn.put(db, key: [1], value: [2]) }
        let target = tmp.appending("copy")
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: false)
        try env.copy(to: target)
        env.close()
        #expect(try Self.mode(target + "/data.mdb") == 0o600)
        let copy = try LMDBEnvironment(path: target)
        let things = try copy.openDatabase("things")
        #expect(try copy.read { txn in try txn.getBytes(things, key: [1]) } == [2])
        copy.close()
        #expect(try Self.mode(target + "/lock.mdb") == 0o600)
        #expect(try Self.mode(tmp.appending("env")) == 0o700)
    }
}
