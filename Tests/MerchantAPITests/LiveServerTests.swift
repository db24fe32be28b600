import EventLogTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// Starts the built `tallystick` executable as a real process: mint, use, restart, use again.
@Suite("Live server")
struct LiveServerTests {
    /// A client that waits as long as a debug build's scrypt needs on a busy 2-core machine
    /// (seconds per hash, several servers at once): not a timing assertion, a bound on a hang.
    static let patient = TestClient.Configuration(timeout: .seconds(300))

    /// The `tallystick` executable (or another product, `name`) built next to this test bundle.
    static func executable(_ name: String = "tallystick") throws -> URL {
        let here = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        var candidates = [here.appendingPathComponent(name)]
        var directory = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { directory.deleteLastPathComponent() }
        candidates.append(directory.appendingPathComponent(".build/debug/\(name)"))
        let found = candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }
        return try #require(found, "build the \(name) product first (swift build)")
    }

    /// Points `process` at `executable` run through `/bin/sh` with `umask` set first, when
    /// given (the umask is per process: a test must not change its own).
    static func configure(
        _ process: Process, executable: URL, arguments: [String], umask: String?
    ) {
        if let umask {
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments =
                ["-c", "umask \(umask) && exec \"$0\" \"$@\"", executable.path] + arguments
        } else {
            process.executableURL = executable
            process.arguments = arguments
        }
    }

    /// A running `tallystick serve` and the port it listens on.
    struct Server {
        let process: Process
        let port: Int

        /// What the server printed before it listened (the generated password, if any).
        let output: String
        /// Its standard output, for lines printed after the listening line.
        let outputPipe: Pipe
        /// Where its standard error (the log) goes.
        let logFile: String

        static func start(dataDirectory: String) throws -> Server {
            try start(
                arguments: [
                    "serve", "--port", "0", "--data-dir", dataDirectory,
                    "--admin-password", "live admin pw", "--log-level", "trace",
                ], environment: [:])
        }

        static func start(
            arguments: [String], environment extra: [String: String], umask: String? = nil
        ) throws -> Server {
            let process = Process()
            LiveServerTests.configure(
                process, executable: try LiveServerTests.executable(), arguments: arguments,
                umask: umask)
            var environment = ProcessInfo.processInfo.environment
            for key in ["TALER_MERCHANT_PASSWORD", "TALLYSTICK_DATA_DIR", "TALLYSTICK_CONFIG"] {
                environment.removeValue(forKey: key)
            }
            // These tests are about other things than slow clients: a test client may open
            // its connection well before its first request while a busy 2-core machine runs
            // the debug build's scrypt, so the deadlines (10 s from the accept) are set far
            // out here (the environment: a test's own flags still win). The deadlines have
            // their own tests and the slow-clients fault.
            environment["TALLYSTICK_HEADER_TIMEOUT"] = "600"
            environment["TALLYSTICK_IDLE_TIMEOUT"] = "600"
            process.environment = environment.merging(extra) { $1 }
            let output = Pipe()
            process.standardOutput = output
            let logFile = NSTemporaryDirectory() + "tallystick-live-\(UUID().uuidString).log"
            _ = FileManager.default.createFile(atPath: logFile, contents: nil)
            process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: logFile))
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
            return Server(
                process: process, port: port, output: seen, outputPipe: output, logFile: logFile)
        }

        /// Kills the server if a failed expectation left it running (each test defers this),
        /// so no `tallystick serve` outlives its test.
        func killIfRunning() {
            guard process.isRunning else { return }
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }

        func stop() -> Int32 {
            process.terminate()
            process.waitUntilExit()
            return process.terminationStatus
        }

        /// The server's log output; the file is removed.
        func takeLog() -> String {
            defer { try? FileManager.default.removeItem(atPath: logFile) }
            return (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? ""
        }
    }

    static func run(
        _ arguments: [String], environment extra: [String: String], umask: String? = nil,
        product: String = "tallystick"
    ) throws -> Int32 {
        let process = Process()
        configure(process, executable: try executable(product), arguments: arguments, umask: umask)
        process.environment = ProcessInfo.processInfo.environment.merging(extra) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// Runs `tallystick ARGUMENTS` expecting it to refuse to start: its exit status and what
    /// it wrote to standard error. A server that starts instead is killed (status 0 is
    /// returned) as soon as it prints its listening line, so a test fails rather than hangs.
    static func runUntilListeningOrExit(_ arguments: [String], environment: [String: String])
        throws -> (Int32, String)
    {
        let process = Process()
        process.executableURL = try executable()
        process.arguments = arguments
        process.environment = environment
        let output = Pipe()
        process.standardOutput = output
        let errorFile = NSTemporaryDirectory() + "tallystick-refusal-\(UUID().uuidString).txt"
        _ = FileManager.default.createFile(atPath: errorFile, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: errorFile) }
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errorFile))
        try process.run()
        var seen = ""
        while !seen.contains("listening on") {
            let chunk = output.fileHandleForReading.availableData
            guard !chunk.isEmpty else { break }
            seen += String(decoding: chunk, as: UTF8.self)
        }
        let started = seen.contains("listening on")
        if started { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        let said = (try? String(contentsOfFile: errorFile, encoding: .utf8)) ?? ""
        return (started ? 0 : process.terminationStatus, said)
    }

    @Test func aTokenMintedBeforeARestartStillWorksAfterIt() async throws {
        let directory = try TemporaryDirectory(prefix: "live")
        defer { directory.remove() }
        let data = directory.appending("data")
        let first = try Server.start(dataDirectory: data)
        defer { first.killIfRunning() }
        let basic = "Basic " + Data("admin:live admin pw".utf8).base64EncodedString()
        let token: String = try await TestClient.withClient(
            host: "127.0.0.1", port: first.port, configuration: LiveServerTests.patient
        ) {
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
        let firstLog = first.takeLog()
        #expect(firstLog.contains("http.route=/private/token"))
        #expect(!firstLog.contains("live admin pw"))
        #expect(!firstLog.contains(String(token.dropFirst("secret-token:".count))))

        let second = try Server.start(dataDirectory: data)
        defer { second.killIfRunning() }
        try await TestClient.withClient(
            host: "127.0.0.1", port: second.port, configuration: LiveServerTests.patient
        ) { client in
            let used = try await client.get(
                "/private/tokens", headers: [.authorization: "Bearer \(token)"])
            #expect(used.status == .ok)
            let wrong = try await client.get(
                "/private/tokens", headers: [.authorization: "Bearer secret-token:nope"])
            #expect(wrong.status == .unauthorized)
        }
        #expect(second.stop() == 0)
        let secondLog = second.takeLog()
        #expect(secondLog.contains("stopped; event log closed"))
        #expect(!secondLog.contains("live admin pw"))
        #expect(!secondLog.contains(String(token.dropFirst("secret-token:".count))))
        #expect(try Self.run(["status", "--data-dir", data], environment: [:]) == 0)
        let changed = try Self.run(
            ["passwd", "admin", "--data-dir", data],
            environment: ["TALER_MERCHANT_PASSWORD": "other"])
        #expect(changed == 0)
    }

    /// Whether Basic `admin:password` can mint on `port`.
    static func adminCanMint(port: Int, password: String) async throws -> Bool {
        try await TestClient.withClient(
            host: "127.0.0.1", port: port, configuration: LiveServerTests.patient
        ) { client in
            let basic = "Basic " + Data("admin:\(password)".utf8).base64EncodedString()
            let response = try await client.post(
                "/private/token", headers: [.authorization: basic],
                body: ByteBuffer(string: #"{"scope":"readonly"}"#))
            return response.status == .ok
        }
    }

    @Test func flagsBeatTheEnvironmentWhichBeatsTheConfigFile() async throws {
        let directory = try TemporaryDirectory(prefix: "live-config")
        defer { directory.remove() }
        let file = directory.appending("tallystick.conf")
        try """
        # every key may be set here
        host = 127.0.0.1
        port = 0
        data-dir = \(directory.appending("from-file"))
        admin-password = file pw
        log-level = warning
        """.write(toFile: file, atomically: true, encoding: .utf8)
        let environment = [
            "TALLYSTICK_DATA_DIR": directory.appending("from-env"),
            "TALER_MERCHANT_PASSWORD": "env pw",
        ]
        let byEnvironment = try Server.start(
            arguments: ["serve", "--config", file], environment: environment)
        defer { byEnvironment.killIfRunning() }
        #expect(try await Self.adminCanMint(port: byEnvironment.port, password: "env pw"))
        #expect(try await Self.adminCanMint(port: byEnvironment.port, password: "file pw") == false)
        #expect(byEnvironment.stop() == 0)
        #expect(!byEnvironment.takeLog().contains("env pw"))
        #expect(FileManager.default.fileExists(atPath: directory.appending("from-env")))
        #expect(!FileManager.default.fileExists(atPath: directory.appending("from-file")))

        let byFlag = try Server.start(
            arguments: [
                "serve", "--config", file, "--data-dir", directory.appending("from-flag"),
                "--admin-password", "flag pw",
            ], environment: environment)
        defer { byFlag.killIfRunning() }
        #expect(try await Self.adminCanMint(port: byFlag.port, password: "flag pw"))
        #expect(byFlag.stop() == 0)
        #expect(!byFlag.takeLog().contains("flag pw"))
        #expect(FileManager.default.fileExists(atPath: directory.appending("from-flag")))
    }

    @Test func withoutAPasswordTheServerGeneratesOneAndPrintsItOnce() async throws {
        let directory = try TemporaryDirectory(prefix: "live-generated")
        defer { directory.remove() }
        let data = directory.appending("data")
        let arguments = ["serve", "--port", "0", "--data-dir", data, "--log-level", "warning"]
        let first = try Server.start(arguments: arguments, environment: [:])
        defer { first.killIfRunning() }
        let marker = "its password (shown once): "
        let line = try #require(first.output.split(separator: "\n").first { $0.contains(marker) })
        let password = String(try #require(line.components(separatedBy: marker).last))
        #expect(password.count == 26)
        #expect(try await Self.adminCanMint(port: first.port, password: password))
        #expect(first.stop() == 0)
        #expect(!first.takeLog().contains(password))
        let second = try Server.start(arguments: arguments, environment: [:])
        defer { second.killIfRunning() }
        #expect(!second.output.contains(marker))
        #expect(try await Self.adminCanMint(port: second.port, password: password))
        #expect(second.stop() == 0)
        #expect(!second.takeLog().contains(password))
    }

    /// The `trusted-proxies` setting reaches the throttle: behind a trusted proxy, the client
    /// named by `X-Forwarded-For` is counted, not the proxy.
    @Test func behindATrustedProxyTheForwardedClientIsCounted() async throws {
        let directory = try TemporaryDirectory(prefix: "live-proxies")
        defer { directory.remove() }
        let server = try Server.start(
            arguments: [
                "serve", "--port", "0", "--data-dir", directory.appending("data"),
                "--admin-password", "live admin pw",
            ], environment: ["TALLYSTICK_TRUSTED_PROXIES": "127.0.0.0/8, ::1"])
        defer { server.killIfRunning() }
        try await TestClient.withClient(
            host: "127.0.0.1", port: server.port, configuration: LiveServerTests.patient
        ) { client in
            func mint(_ password: String, from address: String) async throws -> HTTPResponse.Status
            {
                let basic = "Basic " + Data("admin:\(password)".utf8).base64EncodedString()
                return try await client.post(
                    "/private/token",
                    headers: [.authorization: basic, HTTPField.Name("X-Forwarded-For")!: address],
                    body: ByteBuffer(string: #"{"scope":"readonly"}"#)
                ).status
            }
            var statuses = [HTTPResponse.Status]()
            for _ in 0..<7 { statuses.append(try await mint("guess", from: "203.0.113.9")) }
            #expect(statuses.last == .tooManyRequests)
            #expect(try await mint("live admin pw", from: "198.51.100.1") == .ok)
        }
        #expect(server.stop() == 0)
        #expect(!server.takeLog().contains("live admin pw"))
    }

    @Test func badSettingsAndUnknownInstancesAreRefusedWithANonZeroExit() throws {
        let directory = try TemporaryDirectory(prefix: "live-bad")
        defer { directory.remove() }
        let file = directory.appending("bad.conf")
        try "prot = 9966\n".write(toFile: file, atomically: true, encoding: .utf8)
        #expect(try Self.run(["serve", "--config", file], environment: [:]) != 0)
        for bad in [
            ["--port", "99999"], ["--header-timeout", "0"], ["--body-timeout", "-1"],
            ["--idle-timeout", "3601"], ["--max-connections", "0"],
        ] {
            #expect(
                try Self.run(
                    ["serve", "--data-dir", directory.appending("d")] + bad, environment: [:])
                    != 0, "\(bad)")
        }
        #expect(
            try Self.run(
                [
                    "serve", "--port", "0", "--trusted-proxies", "10.0.0.1/8",
                    "--data-dir", directory.appending("d"),
                ], environment: [:]) != 0)
        #expect(
            try Self.run(
                ["passwd", "nobody", "--data-dir", directory.appending("d")],
                environment: ["TALER_MERCHANT_PASSWORD": "x y z"]) != 0)
        #expect(
            try Self.run(
                ["passwd", "admin", "--data-dir", directory.appending("d")],
                environment: ["TALER_MERCHANT_PASSWORD": "x y z"]) == 0)
    }

    /// Spec §10.2: `external` only with `allow-external-auth = yes`; an instance that has it
    /// is named at every start without the setting.
    @Test func externalAuthNeedsTheOperatorsSettingAndIsNamedAtStart() async throws {
        let directory = try TemporaryDirectory(prefix: "live-external")
        defer { directory.remove() }
        let data = directory.appending("data")
        let create = ByteBuffer(
            string: #"{"id":"open","name":"Open","auth":{"method":"external"}}"#)
        let admin: HTTPFields = [.authorization: "Bearer secret-token:live admin pw"]
        let base = [
            "serve", "--port", "0", "--data-dir", data, "--admin-password", "live admin pw",
        ]
        let allowing = try Server.start(
            arguments: base + ["--allow-external-auth", "yes"], environment: [:])
        defer { allowing.killIfRunning() }
        try await TestClient.withClient(
            host: "127.0.0.1", port: allowing.port, configuration: LiveServerTests.patient
        ) { client in
            let created = try await client.post(
                "/management/instances", headers: admin,
                body: create)
            #expect(created.status == .noContent)
        }
        #expect(allowing.stop() == 0)
        #expect(!allowing.takeLog().contains("needs no credentials"))

        let strict = try Server.start(arguments: base, environment: [:])
        defer { strict.killIfRunning() }
        try await TestClient.withClient(
            host: "127.0.0.1", port: strict.port, configuration: LiveServerTests.patient
        ) { client in
            let refused = try await client.post(
                "/management/instances", headers: admin,
                body: ByteBuffer(
                    string: #"{"id":"open2","name":"Open","auth":{"method":"external"}}"#))
            #expect(refused.status == .badRequest)
            #expect(text(refused.body ?? ByteBuffer()).contains("2601"))
        }
        #expect(strict.stop() == 0)
        #expect(strict.takeLog().contains("instance open needs no credentials (external auth)"))
    }

    /// Spec §9, bad input: a backend credential file others may read (or that is malformed)
    /// stops the server at start with one line naming it; the secret is never printed.
    @Test func aBackendCredentialFileWiderThan0600StopsTheServer() throws {
        let directory = try TemporaryDirectory(prefix: "live-backend")
        defer { directory.remove() }
        let data = directory.appending("data")
        let environment = ["TALER_MERCHANT_PASSWORD": "live admin pw"]
        #expect(
            try Self.run(["passwd", "admin", "--data-dir", data], environment: environment) == 0)
        let file = data + "/backend-credentials"
        try "admin VERY-SECRET-BACKEND\n".write(toFile: file, atomically: false, encoding: .utf8)
        for mode in [0o644, 0o640, 0o604] {
            try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: file)
            let (status, said) = try Self.runUntilListeningOrExit(
                ["serve", "--port", "0", "--data-dir", data], environment: environment)
            #expect(status != 0, "mode \(String(mode, radix: 8))")
            #expect(said.contains(file) && said.contains("0600"))
            #expect(!said.contains("VERY-SECRET-BACKEND"))
        }
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file)
        try "admin\n".write(toFile: file, atomically: false, encoding: .utf8)
        let (status, said) = try Self.runUntilListeningOrExit(
            ["serve", "--port", "0", "--data-dir", data], environment: environment)
        #expect(status != 0)
        #expect(said.contains("expected INSTANCE SECRET"))
    }
}
