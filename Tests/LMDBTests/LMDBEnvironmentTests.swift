import Foundation
import LMDB
import Testing

@Suite("LMDB wrapper")
struct LMDBEnvironmentTests {
    func directory() -> String {
        let path = FileManager.default.temporaryDirectory.path + "/lmdb-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func putGetDeleteAndCursor() throws {
        let path = directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let env = try LMDBEnvironment(path: path)
        let db = try env.openDatabase("things")
        try env.write { txn in
            for i: UInt8 in [3, 1, 2] { try txn.put(db, key: [i], value: [i, i]) }
        }
        #expect(try env.read { txn in try txn.getBytes(db, key: [2]) } == [2, 2])
        #expect(try env.read { txn in try txn.getBytes(db, key: [9]) } == nil)
        let keys: [UInt8] = try env.read { txn in
            try txn.withCursor(db) { cursor in
                var out = [UInt8]()
                var entry = try cursor.first()
                while let e = entry {
                    out.append(e.key[0])
                    entry = try cursor.next()
                }
                return out
            }
        }
        #expect(keys == [1, 2, 3])
        let deleted = try env.write { txn in try txn.delete(db, key: [1]) }
        #expect(deleted)
        #expect(try env.read { txn in try txn.count(db) } == 2)
        #expect(throws: LMDBError.keyExists) {
            try env.write { txn in try txn.put(db, key: [0], value: [], flags: .append) }
        }
    }

    @Test func aThrowingWriteKeepsNothing() throws {
        struct Stop: Error {}
        let path = directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let env = try LMDBEnvironment(path: path)
        let db = try env.openDatabase("things")
        #expect(throws: Stop.self) {
            try env.write { txn in
                try txn.put(db, key: [1], value: [1])
                throw Stop()
            }
        }
        #expect(try env.read { txn in try txn.count(db) } == 0)
    }

    @Test func theMapGrowsOnDemandUpToItsMaximum() throws {
        let path = directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        var options = LMDBEnvironment.Options()
        options.initialMapSize = 32 << 10
        options.maximumMapSize = 1 << 20
        options.flushOnCommit = false
        let env = try LMDBEnvironment(path: path, options: options)
        let db = try env.openDatabase("things")
        var runs = 0
        try env.write { txn in
            runs += 1
            for i in 0..<100 {
                try txn.put(
                    db, key: Array("key-\(i)".utf8), value: [UInt8](repeating: 7, count: 1_000))
            }
        }
        #expect(runs > 1)
        #expect(env.mapSize > 32 << 10)
        #expect(throws: LMDBError.mapFull) {
            try env.write { txn in
                for i in 0..<2_000 {
                    try txn.put(
                        db, key: Array("more-\(i)".utf8), value: [UInt8](repeating: 7, count: 1_000)
                    )
                }
            }
        }
        #expect(try env.read { txn in try txn.count(db) } == 100)
    }

    @Test func onePathOneEnvironmentPerProcess() throws {
        let path = directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let env = try LMDBEnvironment(path: path)
        #expect(throws: LMDBError.alreadyOpenInProcess(path: path)) {
            _ = try LMDBEnvironment(path: path)
        }
        env.close()
        let again = try LMDBEnvironment(path: path)
        again.close()
    }

    @Test func readOnlyEnvironmentsRefuseWrites() throws {
        let path = directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            let env = try LMDBEnvironment(path: path)
            _ = try env.openDatabase("things")
            env.close()
        }
        var options = LMDBEnvironment.Options()
        options.readOnly = true
        let reader = try LMDBEnvironment(path: path, options: options)
        let db = try reader.openDatabase("things", create: false)
        #expect(try reader.read { txn in try txn.count(db) } == 0)
        #expect(throws: LMDBError.self) {
            try reader.write { txn in try txn.put(db, key: [1], value: [1]) }
        }
        #expect(throws: LMDBError.databaseNotFound(name: "nothing")) {
            _ = try reader.openDatabase("nothing", create: false)
        }
    }

    @Test func aDatabaseCanBeEmptiedAndDeleted() throws {
        let path = directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let env = try LMDBEnvironment(path: path)
        let kept = try env.openDatabase("kept")
        let gone = try env.openDatabase("gone")
        try env.write { txn in
            for i: UInt8 in 1...3 {
                try txn.put(kept, key: [i], value: [i])
                try txn.put(gone, key: [i], value: [i])
            }
        }
        try env.write { txn in try txn.removeAll(kept) }
        #expect(try env.read { txn in try txn.count(kept) } == 0)
        try env.write { txn in try txn.deleteDatabase(gone) }
        #expect(throws: LMDBError.databaseNotFound(name: "gone")) {
            _ = try env.openDatabase("gone", create: false)
        }
        _ = try env.openDatabase("kept", create: false)
    }
}
