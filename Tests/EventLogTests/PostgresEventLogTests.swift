import EventLog
import EventLogPostgres
import EventLogTestSupport
import Foundation
import Testing

/// What only a shared database can show: two logs opened on one database stand for two
/// servers. The contract every store keeps is in ``EventStoreContractTests``.
@Suite("PostgreSQL event log")
struct PostgresEventLogTests {
    /// Two open logs ("servers") on one new database.
    struct TwoServers {
        let url: String
        let a: PostgresEventLog
        let b: PostgresEventLog

        init() async throws {
            url = try TemporaryPostgres.shared().createDatabase(prefix: "two")
            a = try await PostgresEventLog.openForTest(url: url)
            b = try await PostgresEventLog.openForTest(url: url)
        }

        func close() async {
            await a.close()
            await b.close()
        }
    }

    @Test func twoServersAppendingConcurrentlyStayGaplessAndChained() async throws {
        let s = try await TwoServers()
        let appenders = 32, each = 15
        let positions = try await withThrowingTaskGroup(of: [UInt64].self) { group in
            for i in 0..<appenders {
                let log = i % 2 == 0 ? s.a : s.b
                group.addTask {
                    var mine = [UInt64]()
                    // Some write streams of their own with exact versions; the others share
                    // one stream written by both servers.
                    let own = i % 4 < 2
                    let stream = own ? "own-\(i)" : "shared"
                    var version: UInt64 = 0
                    for _ in 0..<each {
                        let r = try await log.append(
                            to: stream, expecting: own ? .exact(version) : .any,
                            events: [event()])
                        version = r.streamVersion
                        mine.append(r.lastSequence)
                    }
                    return mine
                }
            }
            var all = [UInt64]()
            for try await p in group { all += p }
            return all
        }
        let total = UInt64(appenders * each)
        #expect(Set(positions) == Set(1...total))
        let records = try await s.a.readAll()
        #expect(records.map(\.sequence) == Array(1...total))
        for i in 1..<records.count { #expect(records[i].previousHash == records[i - 1].hash) }
        let report = try await s.b.verify()
        #expect(report.isValid, "\(String(describing: report.failure))")
        #expect(report.records == total)
        await #expect(try s.a.head() == s.b.head())
        await s.close()
    }

    /// One append per batch: a batch that does not commit as planned (a repeated event id) is
    /// committed again under the lock, and the batches queued behind it are decided after it,
    /// in order.
    @Test func aBatchBehindOneThatFailedIsDecidedAgainInOrder() async throws {
        let url = try TemporaryPostgres.shared().createDatabase(prefix: "flight")
        let log = try await PostgresEventLog.openForTest(url: url, maximumAppendsPerCommit: 1)
        let stored = event()
        _ = try await log.append(to: "p", expecting: .noStream, events: [stored])
        let repeated = log.submit(to: "p", expecting: .any, events: [stored])
        let next = log.submit(to: "p", expecting: .exact(1), events: [event()])
        let other = log.submit(to: "q", expecting: .noStream, events: [event()])
        let after = log.submit(to: "p", expecting: .exact(2), events: [event()])
        let r = try await repeated.result()
        #expect(r.wasDuplicate && r.positions == [.init(sequence: 1, streamVersion: 1)])
        try await #expect(next.result().positions == [.init(sequence: 2, streamVersion: 2)])
        try await #expect(other.result().positions == [.init(sequence: 3, streamVersion: 1)])
        try await #expect(after.result().positions == [.init(sequence: 4, streamVersion: 3)])
        #expect(try await log.verify().isValid)
        await log.close()
    }

    /// The database restarted under a server (a cluster of this test's own): appends fail
    /// with `unavailable` while it is down, within the commit timeout, never hang; once it is
    /// back the same open log appends again, another server's follower delivers every
    /// record once, and the log verifies.
    @Test func aDatabaseRestartIsUnavailableThenTheLogGoesOn() async throws {
        let cluster = try TemporaryPostgres()
        defer { cluster.stop() }
        var configuration = try PostgresEventLog.Configuration(
            url: cluster.createDatabase(prefix: "restart"))
        configuration.connectTimeout = .seconds(180)
        configuration.databaseTimeout = .seconds(2)
        let log = try await PostgresEventLog.open(configuration)
        let other = try await PostgresEventLog.open(configuration)
        var followed = other.follow(from: 1).makeAsyncIterator()
        _ = try await log.append(to: "s", expecting: .noStream, events: [event()])
        #expect(try await followed.next()?.sequence == 1)

        try await cluster.stopServer()
        let error = await #expect(throws: EventLogError.self) {
            try await log.append(to: "s", expecting: .exact(1), events: [event()])
        }
        guard case .unavailable = error else {
            Issue.record("expected unavailable, got \(String(describing: error))")
            return
        }
        try await cluster.startServer()

        let retried = event()
        let r = try await log.append(to: "s", expecting: .any, events: [retried])
        _ = try await other.append(to: "t", expecting: .noStream, events: [event()])
        var sequences = [UInt64]()
        while sequences.count < 2, let record = try await followed.next() {
            sequences.append(record.sequence)
        }
        #expect(sequences == [r.lastSequence, r.lastSequence + 1])
        #expect(try await log.verify().isValid)
        await log.close()
        await other.close()
    }

    @Test func anotherServersAppendMakesAStaleExpectationFail() async throws {
        let s = try await TwoServers()
        _ = try await s.a.append(to: "shop", expecting: .noStream, events: [event()])
        let b = try await s.b.append(to: "shop", expecting: .exact(1), events: [event()])
        #expect(b.positions == [.init(sequence: 2, streamVersion: 2)])
        // Server a last saw "shop" at version 1.
        await #expect(
            throws: EventLogError.wrongExpectedVersion(
                stream: "shop", expected: .exact(1), actual: 2)
        ) {
            try await s.a.append(to: "shop", expecting: .exact(1), events: [event()])
        }
        let r = try await s.a.append(to: "shop", expecting: .exact(2), events: [event()])
        #expect(r.positions == [.init(sequence: 3, streamVersion: 3)])
        await #expect(try s.b.streamVersion("shop") == 3)
        await s.close()
    }

    @Test func aRetryOnAnotherServerIsADuplicate() async throws {
        let s = try await TwoServers()
        let batch = [event(), event()]
        let original = try await s.a.append(to: "shop", expecting: .noStream, events: batch)
        let again = try await s.b.append(to: "shop", expecting: .noStream, events: batch)
        #expect(again.wasDuplicate)
        #expect(again.positions == original.positions)
        await #expect(throws: EventLogError.self) {
            try await s.b.append(to: "other", expecting: .any, events: [batch[0]])
        }
        await #expect(try s.b.head().sequence == 2)
        await s.close()
    }

    @Test func aFollowerSeesTheOtherServersAppends() async throws {
        let s = try await TwoServers()
        _ = try await s.b.append(to: "x", expecting: .any, events: [event()])
        let a = s.a
        let follower = Task {
            var seen = [UInt64]()
            for try await record in a.follow(from: 1) {
                seen.append(record.sequence)
                if seen.count == 6 { break }
            }
            return seen
        }
        for _ in 0..<5 { _ = try await s.b.append(to: "x", expecting: .any, events: [event()]) }
        #expect(try await follower.value == [1, 2, 3, 4, 5, 6])
        await s.close()
    }

    @Test func aFollowerOfAClosedLogEnds() async throws {
        let url = try TemporaryPostgres.shared().createDatabase(prefix: "close")
        let log = try await PostgresEventLog.openForTest(url: url)
        _ = try await log.append(to: "x", expecting: .any, events: [event()])
        let (delivered, deliver) = AsyncStream<Void>.makeStream()
        let follower = Task {
            var seen = 0
            for try await _ in log.follow(from: 1) {
                seen += 1
                deliver.yield()
            }
            return seen
        }
        // Closed once the follower holds record 1 (a fixed sleep was too short under load).
        var first = delivered.makeAsyncIterator()
        _ = await first.next()
        await log.close()
        #expect(try await follower.value == 1)
    }

    @Test func verifyFindsARecordEditedInTheDatabase() async throws {
        let cluster = try TemporaryPostgres.shared()
        let url = try cluster.createDatabase(prefix: "tamper")
        let log = try await PostgresEventLog.openForTest(url: url)
        for _ in 0..<5 { _ = try await log.append(to: "x", expecting: .any, events: [event()]) }
        let records = try await log.readAll()
        try await log.saveCheckpoint(
            Checkpoint(name: "p", sequence: 5, hash: records[4].hash, snapshot: []))
        let sound = try await log.verify()
        #expect(sound.isValid && sound.records == 5 && sound.streams == 1 && sound.checkpoints == 1)
        // One bit of record 3's payload, changed behind the log's back.
        try cluster.psql(
            "UPDATE tallystick.records SET record = set_byte(record, 60, get_byte(record, 60) # 1) "
                + "WHERE sequence = 3", database: url)
        let report = try await log.verify()
        #expect(report.failure?.sequence == 3, "\(String(describing: report.failure))")
        await #expect(throws: EventLogError.self) {
            try await log.scan(from: 1, through: nil, verifyingChain: true) { _ in }
        }
        await log.close()
    }

    @Test func recordsAreTheLMDBLogsByteForByte() async throws {
        let clock = ManualLogClock()
        let directory = try TemporaryDirectory(prefix: "pg-bytes")
        defer { directory.remove() }
        var configuration = LMDBEventLog.Configuration(directory: directory.appending("log"))
        configuration.clock = clock
        let lmdb = try LMDBEventLog.open(configuration)
        let url = try TemporaryPostgres.shared().createDatabase(prefix: "bytes")
        let postgres = try await PostgresEventLog.openForTest(url: url, clock: clock)
        for (stream, events) in [
            ("shop", [event("a.v1", "one"), event("b.v1", "two")]),
            ("admin", [event("c.v1", "three")]), ("shop", [event("d.v1", "")]),
        ] {
            let l = try await lmdb.append(to: stream, expecting: .any, events: events)
            let p = try await postgres.append(to: stream, expecting: .any, events: events)
            #expect(l == p)
            clock.advance(by: 7)
        }
        let fromLMDB = try await lmdb.readAll()
        #expect(try await postgres.readAll() == fromLMDB)
        await #expect(try postgres.head() == lmdb.head())
        await lmdb.close()
        await postgres.close()
    }

    /// A dump of an LMDB log loads into an empty PostgreSQL store record for record (the
    /// same bytes, so it dumps identically), the store goes on appending after it, and a
    /// chain that does not hold is refused naming the record.
    @Test func anLMDBLogRestoresIntoPostgreSQL() async throws {
        let directory = try TemporaryDirectory(prefix: "pg-restore")
        defer { directory.remove() }
        let lmdb = try LMDBEventLog.open(.init(directory: directory.appending("log")))
        for i in 0..<25 {
            _ = try await lmdb.append(
                to: "s\(i % 4)", expecting: .any, events: [event("a.v1", "\(i)"), event()])
        }
        let records = try await lmdb.readAll()
        await lmdb.close()
        let url = try TemporaryPostgres.shared().createDatabase(prefix: "restore")
        let postgres = try await PostgresEventLog.openForTest(url: url)
        try await postgres.restore(records, batch: 7)
        #expect(try await postgres.readAll() == records)
        #expect(try await postgres.verify().isValid)
        let next = try await postgres.append(to: "s0", expecting: .any, events: [event()])
        #expect(next.positions == [.init(sequence: 51, streamVersion: 15)])
        await #expect(throws: EventLogError.invalidEvent("restore needs an empty log")) {
            try await postgres.restore(records)
        }
        await postgres.close()

        var broken = records
        let r = records[9]
        broken[9] = EventRecord(
            formatVersion: r.formatVersion, sequence: r.sequence, stream: r.stream,
            streamVersion: r.streamVersion, eventID: r.eventID, type: r.type,
            recordedAt: r.recordedAt, payload: Array("edited".utf8), previousHash: r.previousHash,
            hash: r.hash)
        let other = try await PostgresEventLog.openForTest(
            url: TemporaryPostgres.shared().createDatabase(prefix: "restore"))
        await #expect(
            throws: EventLogError.invalidEvent("record 10: hash does not match its contents")
        ) {
            try await other.restore(broken)
        }
        await other.close()
    }

    @Test func aNewerSchemaIsRefused() async throws {
        let cluster = try TemporaryPostgres.shared()
        let url = try cluster.createDatabase(prefix: "schema")
        await (try await PostgresEventLog.openForTest(url: url)).close()
        try cluster.psql(
            "UPDATE tallystick.meta SET value = 99 WHERE key = 'schema-version'", database: url)
        await #expect(throws: EventLogError.unsupportedFormat(found: 99, supported: 6)) {
            try await PostgresEventLog.openForTest(url: url)
        }
    }

    /// A version-1 database (its `append_batch` took the streams' versions to check) is
    /// upgraded by the first server that opens it, records kept; writing goes on.
    @Test func aVersionOneSchemaIsUpgraded() async throws {
        let cluster = try TemporaryPostgres.shared()
        let url = try cluster.createDatabase(prefix: "upgrade")
        let log = try await PostgresEventLog.openForTest(url: url)
        _ = try await log.append(to: "s", expecting: .noStream, events: [event()])
        await log.close()
        // Back to version 1's function signature (the body does not matter: it is replaced).
        try cluster.psql(
            """
            DROP FUNCTION tallystick.append_batch(
                bigint, bytea, bigint, bytea, bigint, bigint[], text[], bigint[], uuid[], bytea[]);
            CREATE FUNCTION tallystick.append_batch(
                bigint, bytea, bigint, bytea, bigint, text[], bigint[], bigint[], text[],
                bigint[], uuid[], bytea[]) RETURNS void LANGUAGE sql AS 'SELECT';
            DROP TABLE tallystick.checkpoint_parts;
            ALTER TABLE tallystick.checkpoints DROP COLUMN parts;
            DROP PROCEDURE tallystick.commit_batch;
            UPDATE tallystick.meta SET value = 1 WHERE key = 'schema-version'
            """, database: url)
        let upgraded = try await PostgresEventLog.openForTest(url: url)
        let r = try await upgraded.append(to: "s", expecting: .exact(1), events: [event()])
        #expect(r.positions == [.init(sequence: 2, streamVersion: 2)])
        #expect(try await upgraded.verify().isValid)
        // Version 5's checkpoint parts are there.
        let head = try await upgraded.head()
        try await upgraded.saveCheckpointParts(name: "p", parts: [([1], [2])])
        let checkpoint = Checkpoint(
            name: "p", sequence: head.sequence, hash: head.hash, snapshot: [], parts: [[1]])
        try await upgraded.saveCheckpoint(checkpoint)
        await #expect(try upgraded.checkpoint(named: "p") == .valid(checkpoint))
        await upgraded.close()
        let version = try cluster.psql(
            "SELECT value FROM tallystick.meta WHERE key = 'schema-version'", database: url)
        #expect(version.trimmingCharacters(in: .whitespacesAndNewlines) == "6")
    }

    /// A version-3 database (before the Merkle tree's table) is upgraded in place by the
    /// first open, records untouched, and its tree is then filled from the records.
    @Test func aVersion3SchemaIsUpgradedAndItsTreeFilled() async throws {
        let cluster = try TemporaryPostgres.shared()
        let url = try cluster.createDatabase(prefix: "upgrade")
        let log = try await PostgresEventLog.openForTest(url: url)
        _ = try await log.append(to: "shop", expecting: .any, events: [event(), event(), event()])
        let records = try await log.readAll()
        await log.close()
        try cluster.psql(
            """
            DROP TABLE tallystick.tree_nodes;
            UPDATE tallystick.meta SET value = 3 WHERE key = 'schema-version'
            """, database: url)
        let upgraded = try await PostgresEventLog.openForTest(url: url)
        #expect(try await upgraded.readAll() == records)
        #expect(try await upgraded.merkleTreeSize() == 0)
        #expect(try await upgraded.extendMerkleTree() == 3)
        var frontier = MerkleFrontier()
        for record in records { frontier.append(.leaf(record: record.hash)) }
        #expect(try await upgraded.merkleRoot(size: 3) == frontier.root)
        await upgraded.close()
    }

    @Test func locationsParse() throws {
        let socket = try PostgresLocation("postgres://ts@/events?host=/run/postgresql")
        #expect(socket.endpoint == .socket(path: "/run/postgresql/.s.PGSQL.5432"))
        #expect(socket.user == "ts" && socket.database == "events")
        let tcp = try PostgresLocation("postgresql://ts:p%40ss@db.example:6543/events")
        #expect(tcp.endpoint == .tcp(host: "db.example", port: 6543))
        #expect(tcp.password == "p@ss")
        #expect(!tcp.description.contains("p@ss"))
        let path = try PostgresLocation("/run/postgresql")
        #expect(path.endpoint == .socket(path: "/run/postgresql/.s.PGSQL.5432"))
        #expect(throws: EventLogError.self) { try PostgresLocation("mysql://x@y/z") }
    }
}
