import EventLogTestSupport
import Foundation
import Testing

/// Spec §10.8: `--admin-password` is visible to every local user, so the server warns when
/// it is used (never echoing it) and takes the password from a file as well.
@Suite("Live admin password")
struct LiveAdminPasswordTests {
    static let warning = "--admin-password on the command line is visible to every local user"

    @Test func thePasswordComesFromAFileWithoutAWarning() async throws {
        let directory = try TemporaryDirectory(prefix: "live-password-file")
        defer { directory.remove() }
        let file = directory.appending("admin-password")
        try "pw from the file\r\nsecond line ignored\n".write(
            toFile: file, atomically: true, encoding: .utf8)
        let server = try LiveServerTests.Server.start(
            arguments: [
                "serve", "--port", "0", "--data-dir", directory.appending("data"),
                "--admin-password-file", file, "--log-level", "warning",
            ],
            // A flag beats the environment: the file's password is the one used.
            environment: ["TALER_MERCHANT_PASSWORD": "pw from the environment"])
        defer { server.killIfRunning() }
        #expect(
            try await LiveServerTests.adminCanMint(port: server.port, password: "pw from the file"))
        #expect(
            try await LiveServerTests.adminCanMint(
                port: server.port, password: "pw from the environment") == false)
        #expect(server.stop() == 0)
        let log = server.takeLog()
        #expect(!log.contains(Self.warning))
        #expect(!log.contains("pw from the"))
    }

    @Test func theFlagWorksButWarnsOnceWithoutTheValue() async throws {
        let directory = try TemporaryDirectory(prefix: "live-password-flag")
        defer { directory.remove() }
        let server = try LiveServerTests.Server.start(
            arguments: [
                "serve", "--port", "0", "--data-dir", directory.appending("data"),
                "--admin-password", "pw on the command line", "--log-level", "warning",
            ], environment: [:])
        defer { server.killIfRunning() }
        #expect(
            try await LiveServerTests.adminCanMint(
                port: server.port, password: "pw on the command line"))
        #expect(server.stop() == 0)
        let log = server.takeLog()
        #expect(log.split(separator: "\n").filter { $0.contains(Self.warning) }.count == 1)
        #expect(log.contains("TALER_MERCHANT_PASSWORD or --admin-password-file"))
        #expect(!log.contains("pw on the command line"))
        #expect(!server.output.contains("pw on the command line"))
    }

    @Test func bothFormsFromOneSourceOrAnUnreadableFileAreRefused() throws {
        let directory = try TemporaryDirectory(prefix: "live-password-refused")
        defer { directory.remove() }
        let empty = directory.appending("empty")
        try "\n".write(toFile: empty, atomically: true, encoding: .utf8)
        let data = directory.appending("data")
        for (arguments, why) in [
            (["--admin-password", "x y z", "--admin-password-file", empty], "not both"),
            (["--admin-password-file", directory.appending("missing")], "cannot read"),
            (["--admin-password-file", empty], "empty first line"),
        ] {
            let (status, said) = try LiveServerTests.runUntilListeningOrExit(
                ["serve", "--port", "0", "--data-dir", data] + arguments, environment: [:])
            #expect(status != 0)
            #expect(said.contains(why), "\(said)")
            #expect(!said.contains("x y z"))
        }
        #expect(!FileManager.default.fileExists(atPath: data))
    }
}
