import EventLogTestSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

/// Starts the built `tallystick` executable as a real process: mint, use, restart, use again.
@Suite("Live server")
struct LiveServerTests {
    /// The `tallystick` executable built next to this test bundle.
    static func executable() throws -> URL {
        let here = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        var candidates = [here.appendingPathComponent("tallystick")]
        var directory = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { directory.deleteLastPathComponent() }
        candidates.append(directory.appendingPathComponent(".build/debug/tallystick"))
        let found = candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }
        return try #require(found, "build the tallystick product first (swift build)")
    }

    /// A running `tallystick serve` and the port it listens on.
    struct Server {
        let process: Process
        let port: Int

        static func start(dataDirectory: String) throws -> Server {
            let process = Process()
            process.executableURL = try LiveServerTests.executable()
            process.arguments = [
                "serve", "--port", "0", "--data-dir", dataDirectory,
                "--admin-password", "live admin pw", "--log-level", "warning",
            ]
            var environment = ProcessInfo.processInfo.environment
            environment.removeValue(forKey: "TALER_MERCHANT_PASSWORD")
            process.environment = environment
            let output = Pipe()
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
            try process.run()
            var seen = ""
            while !seen.contains("\n") || !seen.contains("listening on") {
                let chunk = output.fileHandleForReading.availableData
                guard !chunk.isEmpty else { break }
                seen += String(decoding: chunk, as: UTF8.self)
            }
            let line = try #require(
                seen.split(separator: "\n").first { $0.contains("listening on") })
            let port = try #require(line.split(separator: ":").last.flatMap { Int($0) })
            return Server(process: process, port: port)
        }

        func stop() -> Int32 {
            process.terminate()
            process.waitUntilExit()
            return process.terminationStatus
        }
    }

    static func run(_ arguments: [String], environment extra: [String: String]) throws -> Int32 {
        let process = Process()
        process.executableURL = try executable()
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(extra) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }

    @Test func aTokenMintedBeforeARestartStillWorksAfterIt() async throws {
        let directory = try TemporaryDirectory(prefix: "live")
        defer { directory.remove() }
        let data = directory.appending("data")
        let first = try Server.start(dataDirectory: data)
        let basic = "Basic " + Data("admin:live admin pw".utf8).base64EncodedString()
        let token: String = try await TestClient.withClient(host: "127.0.0.1", port: first.port) {
            client in
            let minted = try await client.post(
                "/private/token", headers: [.authorization: basic],
                body: ByteBuffer(string: #"{"scope":"readonly","duration":{"d_us":"forever"}}"#))
            #expect(minted.status == .ok)
            let body = text(minted.body ?? ByteBuffer())
            let start = try #require(body.range(of: #""access_token":""#)).upperBound
            let token = String(body[start...].prefix { $0 != "\"" })
            let used = try await client.get(
                "/private/tokens", headers: [.authorization: "Bearer \(token)"])
            #expect(used.status == .ok)
            return token
        }
        let refused = try Self.run(
            ["passwd", "admin", "--data-dir", data],
            environment: ["TALER_MERCHANT_PASSWORD": "other"])
        #expect(refused != 0)
        #expect(first.stop() == 0)

        let second = try Server.start(dataDirectory: data)
        try await TestClient.withClient(host: "127.0.0.1", port: second.port) { client in
            let used = try await client.get(
                "/private/tokens", headers: [.authorization: "Bearer \(token)"])
            #expect(used.status == .ok)
            let wrong = try await client.get(
                "/private/tokens", headers: [.authorization: "Bearer secret-token:nope"])
            #expect(wrong.status == .unauthorized)
        }
        #expect(second.stop() == 0)
        #expect(try Self.run(["status", "--data-dir", data], environment: [:]) == 0)
        let changed = try Self.run(
            ["passwd", "admin", "--data-dir", data],
            environment: ["TALER_MERCHANT_PASSWORD": "other"])
        #expect(changed == 0)
    }
}
