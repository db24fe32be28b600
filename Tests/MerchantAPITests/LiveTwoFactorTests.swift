import EventLogTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// Two-factor authentication through the built `tallystick` executable: helper flags and the
/// config file's `HELPER_EMAIL`, and a code sent before a restart that verifies after it.
@Suite("Live server: two-factor authentication")
struct LiveTwoFactorTests {
    typealias Server = LiveServerTests.Server

    static func field(_ name: String, of body: String) throws -> String {
        let start = try #require(body.range(of: "\"\(name)\":\"")).upperBound
        return String(body[start...].prefix { $0 != "\"" })
    }

    @Test func aCodeSentBeforeARestartStillSolvesItsChallengeAfterIt() async throws {
        let directory = try TemporaryDirectory(prefix: "live-tan")
        defer { directory.remove() }
        let data = directory.appending("data")
        let messages = directory.appending("messages")
        let helper = directory.appending("helper.sh")
        try "#!/bin/sh\n{ printf '%s\\n' \"$1\"; cat; printf '\\n'; } >> '\(messages)'\n"
            .write(toFile: helper, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: helper)
        let config = directory.appending("tallystick.conf")
        try "HELPER_EMAIL = \(helper)\n".write(toFile: config, atomically: true, encoding: .utf8)
        let arguments = [
            "serve", "--port", "0", "--data-dir", data, "--admin-password", "live admin pw",
            "--log-level", "trace", "--config", config,
        ]
        let adminBasic = "Basic " + Data("admin:live admin pw".utf8).base64EncodedString()
        let shopBasic = "Basic " + Data("shop:live shop pw".utf8).base64EncodedString()
        let mintBody = #"{"scope":"readonly"}"#

        let first = try Server.start(arguments: arguments, environment: [:])
        defer { first.killIfRunning() }
        let challenge: String = try await TestClient.withClient(
            host: "127.0.0.1", port: first.port, configuration: LiveServerTests.patient
        ) {
            client in
            let admin = try await client.post(
                "/private/token", headers: [.authorization: adminBasic],
                body: ByteBuffer(string: #"{"scope":"all"}"#))
            let adminToken = try Self.field("access_token", of: text(admin.body ?? ByteBuffer()))
            let created = try await client.post(
                "/management/instances", headers: [.authorization: "Bearer \(adminToken)"],
                body: ByteBuffer(
                    string:
                        #"{"id":"shop","name":"Shop","auth":{"method":"token","password":"live shop pw"},"email":"shop@example.com"}"#
                ))
            #expect(created.status == .noContent)
            let accepted = try await client.post(
                "/instances/shop/private/token", headers: [.authorization: shopBasic],
                body: ByteBuffer(string: mintBody))
            #expect(accepted.status == .accepted)
            let id = try Self.field("challenge_id", of: text(accepted.body ?? ByteBuffer()))
            let sent = try await client.post(
                "/instances/shop/challenge/\(id)", body: ByteBuffer(string: "{}"))
            #expect(sent.status == .ok)
            return id
        }
        #expect(first.stop() == 0)
        let firstLog = first.takeLog()
        let written = try String(contentsOfFile: messages, encoding: .utf8).split(separator: "\n")
        #expect(written.first == "shop@example.com")
        let code = String(try #require(written.dropFirst().first).prefix { $0 != " " })
        #expect(code.count == 8)
        let key = try FileManager.default.attributesOfItem(atPath: data + "/tan.key")
        #expect((key[.posixPermissions] as? Int) == 0o600)
        #expect((key[.size] as? Int) == 32)

        let second = try Server.start(arguments: arguments, environment: [:])
        defer { second.killIfRunning() }
        try await TestClient.withClient(
            host: "127.0.0.1", port: second.port, configuration: LiveServerTests.patient
        ) { client in
            let confirmed = try await client.post(
                "/instances/shop/challenge/\(challenge)/confirm",
                body: ByteBuffer(string: #"{"tan":"\#(code)"}"#))
            #expect(confirmed.status == .noContent)
            let minted = try await client.post(
                "/instances/shop/private/token",
                headers: [
                    .authorization: shopBasic, HTTPField.Name("Taler-Challenge-Ids")!: challenge,
                ],
                body: ByteBuffer(string: mintBody))
            #expect(minted.status == .ok)
        }
        #expect(second.stop() == 0)
        let secondLog = second.takeLog()
        for log in [firstLog, secondLog] {
            #expect(log.contains("/challenge/"))
            #expect(!log.contains(code))
            #expect(!log.contains("live shop pw"))
        }
        let records = try Data(contentsOf: URL(fileURLWithPath: data + "/data.mdb"))
        #expect(records.range(of: Data(code.utf8)) == nil)
    }

    @Test func aHelperThatIsNotAnExecutableIsRefusedAtStart() throws {
        let directory = try TemporaryDirectory(prefix: "live-tan-bad")
        defer { directory.remove() }
        #expect(
            try LiveServerTests.run(
                [
                    "serve", "--port", "0", "--data-dir", directory.appending("d"),
                    "--helper-sms", directory.appending("missing.sh"),
                ], environment: ["TALER_MERCHANT_PASSWORD": "x y z"]) != 0)
    }
}
