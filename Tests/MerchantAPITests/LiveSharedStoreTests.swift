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

    @Test func concurrentRefreshesSplitOverTwoServersGetDistinctGaplessSerials() async throws {
        let postgres = try TemporaryPostgres.shared()
        let url = try postgres.createDatabase(prefix: "refresh")
        let directory = try TemporaryDirectory(prefix: "live-shared-refresh")
        defer { directory.remove() }
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
        defer { a.killIfRunning() }
        let (minted, body) = try await Self.status(
            .post, "/private/token", port: a.port,
            authorization: "Basic " + Data("admin:\(password)".utf8).base64EncodedString(),
            body: #"{"scope":"all:refreshable","duration":{"d_us":"forever"}}"#)
        #expect(minted == 200)
        let parent = try LiveTwoFactorTests.field("access_token", of: body)
        // b starts after the mint: it folds the parent at start.
        let b = try Server.start(
            arguments: serve("b"), environment: ["TALER_MERCHANT_PASSWORD": "not used"])
        defer { b.killIfRunning() }
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for i in 0..<200 {
                let port = i % 2 == 0 ? a.port : b.port
                group.addTask {
                    try await Self.status(
                        .post, "/private/token", port: port, authorization: "Bearer \(parent)",
                        body: #"{"scope":"readonly","duration":{"d_us":"forever"}}"#
                    ).0
                }
            }
            var all = [Int]()
            for try await status in group { all.append(status) }
            return all
        }
        #expect(
            statuses.allSatisfy { $0 == 200 },
            "\(Dictionary(grouping: statuses) { $0 }.mapValues(\.count))")
        #expect(a.stop() == 0)
        #expect(b.stop() == 0)
        _ = a.takeLog() + b.takeLog()
        // One log: the parent and 200 children, serials 1...201 without a gap or a twin.
        let (dumped, dump) = try await LiveUpstreamTests.run(
            ["dump", "--store", url], product: "tallystick-log")
        #expect(dumped == 0)
        let issued = dump.split(separator: "\n").filter { $0.contains("token-issued.v1") }
        let serials = issued.compactMap { line -> Int? in
            guard let range = line.range(of: #""serial":"#) else { return nil }
            return Int(line[range.upperBound...].prefix { $0.isNumber })
        }
        #expect(serials.sorted() == Array(1...201), "\(serials.count) serials")
        let (status, report) = try await LiveUpstreamTests.run(["status", "--store", url])
        #expect(status == 0 && report.contains("verify:      ok"), "\(report)")
    }
}
