import EventLogTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// Two `tallystick serve` processes on one PostgreSQL database (a throwaway cluster the test
/// starts): what one server commits, the other honours.
@Suite("Live: two servers on one PostgreSQL store")
struct LiveSharedStoreTests {
    typealias Server = LiveServerTests.Server

    /// `METHOD PATH` on `port` with `authorization`: the status.
    static func status(
        _ method: HTTPRequest.Method, _ path: String, port: Int, authorization: String,
        body: String? = nil
    ) async throws -> (Int, String) {
        try await TestClient.withClient(
            host: "127.0.0.1", port: port, configuration: LiveServerTests.patient
        ) { client in
            let response = try await client.execute(
                TestClient.Request(
                    path, method: method,
                    headers: [.authorization: authorization, .contentType: "application/json"],
                    body: body.map { ByteBuffer(string: $0) }))
            return (Int(response.status.code), text(response.body ?? ByteBuffer()))
        }
    }

    /// Asks `port` until it answers `expected` (the other server's commit reaches it through
    /// its follower within milliseconds): the number of requests it took. No sleeping: each
    /// try is a real request.
    static func until(
        _ expected: Int, _ method: HTTPRequest.Method, _ path: String, port: Int,
        authorization: String
    ) async throws -> Int? {
        for attempt in 1...2_000 {
            let (status, _) = try await Self.status(
                method, path, port: port, authorization: authorization)
            if status == expected { return attempt }
            await Task.yield()
        }
        return nil
    }

    @Test func aTokenMintedOnOneServerWorksOnTheOtherUntilTheOtherRevokesIt() async throws {
        let postgres = try TemporaryPostgres.shared()
        let url = try postgres.createDatabase(prefix: "live")
        let directory = try TemporaryDirectory(prefix: "live-shared")
        defer { directory.remove() }
        let keys = directory.appending("keys")
        func serve(_ name: String) -> [String] {
            [
                "serve", "--port", "0", "--store", url, "--key-dir", keys,
                "--data-dir", directory.appending(name), "--log-level", "info",
            ]
        }
        let password = LiveNginxTests.secret("shared-admin")
        let a = try Server.start(
            arguments: serve("a"), environment: ["TALER_MERCHANT_PASSWORD": password])
        defer { a.killIfRunning() }
        let b = try Server.start(
            arguments: serve("b"), environment: ["TALER_MERCHANT_PASSWORD": "not used"])
        defer { b.killIfRunning() }

        // Minted on a ...
        let (minted, body) = try await Self.status(
            .post, "/private/token", port: a.port,
            authorization: "Basic " + Data("admin:\(password)".utf8).base64EncodedString(),
            body: #"{"scope":"all:refreshable"}"#)
        #expect(minted == 200)
        let token = try LiveTwoFactorTests.field("access_token", of: body)
        // ... used on b, once b has folded it.
        let seen = try await Self.until(
            200, .get, "/private/tokens", port: b.port, authorization: "Bearer \(token)")
        #expect(seen != nil)
        // Revoked on b: refused on a.
        let (revoked, _) = try await Self.status(
            .delete, "/private/token", port: b.port, authorization: "Bearer \(token)")
        #expect(revoked == 204)
        let refused = try await Self.until(
            401, .get, "/private/tokens", port: a.port, authorization: "Bearer \(token)")
        #expect(refused != nil)

        #expect(a.stop() == 0)
        #expect(b.stop() == 0)
        let logs = a.output + a.takeLog() + b.output + b.takeLog()
        #expect(!logs.contains(password))
        #expect(!logs.contains(String(token.dropFirst("secret-token:".count))))
        // Both wrote one log: it verifies, with the admin created once.
        let (status, report) = try await LiveUpstreamTests.run(["status", "--store", url])
        #expect(status == 0, "\(report)")
        #expect(report.contains("verify:      ok"))
        // The offline tools read it too.
        let (verified, verifying) = try await LiveUpstreamTests.run(
            ["verify", "--store", url], product: "tallystick-log")
        #expect(verified == 0, "\(verifying)")
        let (dumped, dump) = try await LiveUpstreamTests.run(
            ["dump", "--store", url], product: "tallystick-log")
        #expect(dumped == 0)
        #expect(
            dump.split(separator: "\n").filter { $0.contains("instance-created.v1") }.count == 1)
        #expect(dump.contains("token-revoked.v1"))
        // The dump loads into another, empty store and dumps identically.
        let copy = try postgres.createDatabase(prefix: "copy")
        let (loaded, loading) = try await LiveUpstreamTests.run(
            ["load", "--store", copy], input: dump, product: "tallystick-log")
        #expect(loaded == 0, "\(loading)")
        let (_, copied) = try await LiveUpstreamTests.run(
            ["dump", "--store", copy], product: "tallystick-log")
        #expect(copied == dump)
        let (reloaded, refusal) = try await LiveUpstreamTests.run(
            ["load", "--store", copy], input: dump, product: "tallystick-log")
        #expect(reloaded == 1)
        #expect(refusal.contains("restore needs an empty log"))
        let (backedUp, advice) = try await LiveUpstreamTests.run(
            ["backup", directory.appending("copy"), "--store", url], product: "tallystick-log")
        #expect(backedUp != 0)
        #expect(advice.contains("pg_dump"))
    }

    /// Two servers on a new database of the shared cluster, and a refreshable `admin` token
    /// minted on `a` before `b` starts (so `b` folds it at start). Stop both and remove
    /// ``directory`` when done.
    struct TwoServers {
        let url: String
        let directory: TemporaryDirectory
        let a: Server
        let b: Server
        let parent: String

        init(prefix: String) async throws {
            let url = try TemporaryPostgres.shared().createDatabase(prefix: prefix)
            let directory = try TemporaryDirectory(prefix: "live-shared-\(prefix)")
            let keys = directory.appending("keys")
            func serve(_ name: String) -> [String] {
                [
                    "serve", "--port", "0", "--store", url, "--key-dir", keys,
                    "--data-dir", directory.appending(name), "--log-level", "warning",
                ]
            }
            let password = LiveNginxTests.secret("shared-admin")
            let a = try Server.start(
                arguments: serve("a"), environment: ["TALER_MERCHANT_PASSWORD": password])
            let (minted, body) = try await LiveSharedStoreTests.status(
                .post, "/private/token", port: a.port,
                authorization: "Basic " + Data("admin:\(password)".utf8).base64EncodedString(),
                body: #"{"scope":"all:refreshable","duration":{"d_us":"forever"}}"#)
            if minted != 200 { a.killIfRunning() }
            try #require(minted == 200, "the parent mint answered \(minted)")
            parent = try LiveTwoFactorTests.field("access_token", of: body)
            b = try Server.start(
                arguments: serve("b"), environment: ["TALER_MERCHANT_PASSWORD": "not used"])
            (self.url, self.directory, self.a) = (url, directory, a)
        }

        /// `POST /private/token` with the parent on `port`: the status.
        func refresh(on port: Int) async throws -> Int {
            try await LiveSharedStoreTests.status(
                .post, "/private/token", port: port, authorization: "Bearer \(parent)",
                body: #"{"scope":"readonly","duration":{"d_us":"forever"}}"#
            ).0
        }

        /// Stops both (expecting exit 0), then returns the log's records as dumped, one line
        /// each, after checking that the store verifies.
        func finish() async throws -> [Substring] {
            #expect(a.stop() == 0)
            #expect(b.stop() == 0)
            _ = a.takeLog() + b.takeLog()
            let (status, report) = try await LiveUpstreamTests.run(["status", "--store", url])
            #expect(status == 0 && report.contains("verify:      ok"), "\(report)")
            let (dumped, dump) = try await LiveUpstreamTests.run(
                ["dump", "--store", url], product: "tallystick-log")
            #expect(dumped == 0)
            return dump.split(separator: "\n")
        }

        /// The number after `"key":` in a dumped line.
        static func number(_ key: String, in line: Substring) -> Int? {
            guard let range = line.range(of: "\"\(key)\":") else { return nil }
            return Int(line[range.upperBound...].prefix { $0.isNumber })
        }
    }

    @Test func concurrentRefreshesSplitOverTwoServersGetDistinctGaplessSerials() async throws {
        let s = try await TwoServers(prefix: "refresh")
        defer {
            s.a.killIfRunning()
            s.b.killIfRunning()
            s.directory.remove()
        }
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for i in 0..<200 {
                let port = i % 2 == 0 ? s.a.port : s.b.port
                group.addTask { try await s.refresh(on: port) }
            }
            var all = [Int]()
            for try await status in group { all.append(status) }
            return all
        }
        #expect(
            statuses.allSatisfy { $0 == 200 },
            "\(Dictionary(grouping: statuses) { $0 }.mapValues(\.count))")
        // One log: the parent and 200 children, serials 1...201 without a gap or a twin.
        let issued = try await s.finish().filter { $0.contains("token-issued.v1") }
        let serials = issued.compactMap { TwoServers.number("serial", in: $0) }
        #expect(serials.sorted() == Array(1...201), "\(serials.count) serials")
    }

    /// The parent revoked through `b` while both servers mint from it: every mint either
    /// server acknowledged committed before the revocation, none after it, and the others
    /// were refused. (Each server decides an instance's commands in a pipeline: a mint
    /// decided on `a` behind one that lost its version to the revocation must be refused
    /// with it, not committed because the version it expected is free after all.)
    @Test func aRevocationRacingRefreshesOnBothServersEndsThem() async throws {
        let s = try await TwoServers(prefix: "race")
        defer {
            s.a.killIfRunning()
            s.b.killIfRunning()
            s.directory.remove()
        }
        let (statuses, revoked) = try await withThrowingTaskGroup(of: (Int, Bool).self) { group in
            for i in 0..<120 {
                let port = i % 2 == 0 ? s.a.port : s.b.port
                group.addTask { (try await s.refresh(on: port), false) }
                if i == 40 {
                    group.addTask {
                        let (status, _) = try await LiveSharedStoreTests.status(
                            .delete, "/private/token", port: s.b.port,
                            authorization: "Bearer \(s.parent)")
                        return (status, true)
                    }
                }
            }
            var statuses = [Int]()
            var revoked = 0
            for try await (status, isRevocation) in group {
                if isRevocation { revoked = status } else { statuses.append(status) }
            }
            return (statuses, revoked)
        }
        #expect(revoked == 204)
        // 401 for the revoked parent; 429 once the login throttle counts those failures.
        #expect(
            statuses.allSatisfy { [200, 401, 429].contains($0) },
            "\(Dictionary(grouping: statuses) { $0 }.mapValues(\.count))")
        let records = try await s.finish()
        let revocation = records.first { $0.contains("token-revoked.v1") }
            .flatMap { TwoServers.number("sequence", in: $0) }
        let minted = records.filter { $0.contains("token-issued.v1") }
            .compactMap { TwoServers.number("sequence", in: $0) }
        #expect(revocation != nil)
        #expect(
            minted.allSatisfy { $0 < revocation ?? 0 },
            "minted after the revocation at \(revocation ?? 0): \(minted.filter { $0 > revocation ?? 0 })"
        )
        // The parent and one child per 200.
        #expect(minted.count == 1 + statuses.filter { $0 == 200 }.count)
    }
}
