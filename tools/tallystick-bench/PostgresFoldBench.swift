import ArgumentParser
import EventLog
import EventLogPostgres
import EventLogTestSupport
import Foundation
import TokenEngine

struct PostgresFoldBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "postgres-fold",
        abstract: "Start-up fold of a large log from PostgreSQL, beside the same fold from LMDB.",
        discussion: """
            Writes (or reuses, --fixture) the engine benchmark's log of --tokens issued tokens
            in LMDB, loads it into a throwaway PostgreSQL cluster with the store's restore (the
            path of `tallystick-log load --store`), then folds it the way a server starts, every
            hash checked: from PostgreSQL, then from LMDB. The issue's target: >= 500,000
            events/s from PostgreSQL for 1M events.
            Example: swift run -c release tallystick-bench postgres-fold --tokens 1000000
            """)

    @Option(help: "Tokens in the log.")
    var tokens = 1_000_000
    @Option(help: "Keep the LMDB fixture in this directory and reuse it when it exists.")
    var fixture: String?

    func run() async throws {
        let base = FileManager.default.temporaryDirectory.path + "/tallystick-pgfold-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: base) }
        let path = fixture ?? base + "/fold"
        try await EngineBench.ensureFixture(path: path, tokens: tokens, instances: 1)
        let lmdb = try LMDBEventLog.openReadOnly(directory: path)
        let cluster = try TemporaryPostgres()
        defer { cluster.stop() }
        let postgres = try await PostgresEventLog.open(
            url: try cluster.createDatabase(prefix: "fold"))
        var rows = [(String, String, String)]()

        var started = ContinuousClock.now
        try await postgres.restore(Pages(log: lmdb))
        let count = Double(try lmdb.head().sequence)
        rows.append(
            (
                "load into PostgreSQL (restore)", rate(count / seconds(since: started), "events/s"),
                ""
            ))

        started = ContinuousClock.now
        try await postgres.scan(from: 1, through: nil, verifyingChain: true) { _ in }
        rows.append(
            (
                "  its scan alone (read, decode, hashes)",
                rate(count / seconds(since: started), "events/s"), ""
            ))

        started = ContinuousClock.now
        var fromPostgres = ReplayedState()
        try await fromPostgres.fold(postgres)
        let postgresRate = Double(fromPostgres.eventsFolded) / seconds(since: started)
        rows.append(
            (
                "fold from PostgreSQL, hashes checked", rate(postgresRate, "events/s"),
                ">= 500,000 events/s"
            ))

        started = ContinuousClock.now
        var fromLMDB = ReplayedState()
        try await fromLMDB.fold(lmdb)
        let lmdbRate = Double(fromLMDB.eventsFolded) / seconds(since: started)
        rows.append(("fold from LMDB, hashes checked", rate(lmdbRate, "events/s"), "same run"))
        rows.append(
            (
                "  events folded (each)", "\(fromPostgres.eventsFolded)",
                StateDigest.hex(of: fromPostgres.state) == StateDigest.hex(of: fromLMDB.state)
                    ? "equal state digests" : "STATE DIGESTS DIFFER"
            ))
        await postgres.close()
        await lmdb.close()
        printTable(rows)
    }

    /// The LMDB log's records in pages of 10,000, read as the restore asks for them.
    struct Pages: Sequence, IteratorProtocol {
        let log: LMDBEventLog
        var following = UInt64(1)
        var page: [EventRecord] = []
        var index = 0

        init(log: LMDBEventLog) { self.log = log }

        mutating func next() -> EventRecord? {
            if index == page.count {
                do {
                    page = try log.read(from: following, limit: 10_000)
                } catch {
                    fatalError("reading the fixture at \(following): \(error)")
                }
                index = 0
                following += UInt64(page.count)
                if page.isEmpty { return nil }
            }
            defer { index += 1 }
            return page[index]
        }
    }
}
