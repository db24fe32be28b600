import EventLogTestSupport
import Foundation
import LMDB
import Testing

@testable import EventLog

/// What a power cut can leave in a data directory since new logs, keys and backups are made
/// whole before they take their names (the power-cut fault in `tools/fire` builds the states
/// themselves; these check that each leftover is cleared or refused, never misread).
@Suite("Power-cut leftovers")
struct PowerCutLeftoverTests {
    @Test func aStagedLogLeftByACutIsReplacedByTheNextStart() async throws {
        let tmp = try TemporaryDirectory(prefix: "staged")
        defer { tmp.remove() }
        let dir = tmp.appending("log")
        let staging = dir + "/" + LMDBEventLog.stagingName
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
        // A torn first page: what a cut during the staged log's creation can leave.
        FileManager.default.createFile(atPath: staging + "/data.mdb", contents: Data(count: 4096))
        let log = try LMDBEventLog.open(LMDBEventLog.Configuration(directory: dir))
        _ = try await log.append(
            to: "shop", expecting: .noStream,
            events: [ProposedEvent(type: "a.v1", payload: Array("x".utf8))])
        await log.close()
        let names = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
        #expect(names == ["data.mdb", "lock.mdb", "writer.lock"])
        let reader = try LMDBEventLog.openReadOnly(directory: dir)
        #expect(try reader.head().sequence == 1)
        await reader.close()
    }

    @Test func aNewLogThatWasNeverWrittenToVerifies() async throws {
        let tmp = try TemporaryDirectory(prefix: "born")
        defer { tmp.remove() }
        let dir = tmp.appending("log")
        await (try LMDBEventLog.open(LMDBEventLog.Configuration(directory: dir))).close()
        // Every database and the format marker are there from the first flush on.
        let reader = try LMDBEventLog.openReadOnly(directory: dir)
        #expect(try reader.head() == .empty)
        await reader.close()
    }

    @Test func aKeyFileIsMadeWholeAndNeverReplaced() throws {
        let tmp = try TemporaryDirectory(prefix: "key")
        defer { tmp.remove() }
        let path = tmp.appending("tan.key")
        // A part of a key written by a cut before the link: removed, never used.
        FileManager.default.createFile(atPath: path + ".new", contents: Data([1, 2, 3]))
        #expect(try DataDirectory.createFile(path, bytes: Array(repeating: 7, count: 32)))
        #expect(FileManager.default.contents(atPath: path) == Data(repeating: 7, count: 32))
        #expect(!FileManager.default.fileExists(atPath: path + ".new"))
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect(attributes[.posixPermissions] as? Int == 0o600)
        // A second maker (another server on the same key directory) keeps the first key.
        #expect(try !DataDirectory.createFile(path, bytes: Array(repeating: 9, count: 32)))
        #expect(FileManager.default.contents(atPath: path) == Data(repeating: 7, count: 32))
    }

    @Test func aBackupLeavesNoPartialCopyAndRefusesToReplaceOne() throws {
        let tmp = try TemporaryDirectory(prefix: "copy")
        defer { tmp.remove() }
        let source = tmp.appending("source")
        let env = try LMDBEnvironment(path: source)
        defer { env.close() }
        let db = try env.openDatabase("things")
        try env.write { txn in try txn.put(db, key: [1], value: [1]) }
        let dest = tmp.appending("copy")
        try FileManager.default.createDirectory(atPath: dest, withIntermediateDirectories: true)
        try env.copy(to: dest)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dest) == ["data.mdb"])
        #expect(throws: LMDBError.self) { try env.copy(to: dest) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dest) == ["data.mdb"])
    }
}
