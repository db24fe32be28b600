import EventLog
import EventLogTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Synchronization
import Testing
import TokenDomain
import TokenEngine

@testable import MerchantAPI

/// Where a test reads the code a helper was given.
protocol CodeSource: Sendable {
    /// The code of the last message to `address`.
    func lastCode(to address: String) throws -> String
}

/// A real helper program: a shell script that appends its first argument and its standard
/// input to a file, run by ``HelperPrograms`` exactly as the server runs the operator's.
struct HelperScript: CodeSource {
    let programs: HelperPrograms
    let file: String

    init(in directory: TemporaryDirectory, channels: Set<TANChannel> = [.email, .sms]) throws {
        file = directory.appending("messages")
        let path = directory.appending("helper.sh")
        let script =
            "#!/bin/sh\n{ printf '%s\\n' \"$1\"; cat; printf '\\n--\\n'; } >> '\(file)'\n"
        try script.write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
        var programs: [TANChannel: String] = [:]
        for channel in channels { programs[channel] = path }
        self.programs = HelperPrograms(programs: programs, timeout: .seconds(20))
    }

    /// Every address the helper was run with, in order.
    func addresses() throws -> [String] {
        try messages().map(\.address)
    }

    func lastCode(to address: String) throws -> String {
        let message = try #require(try messages().last { $0.address == address })
        return String(message.text.prefix { $0 != " " })
    }

    /// (argument, message) per run: the script writes the argument's line, the message and
    /// a `--` line.
    private func messages() throws -> [(address: String, text: String)] {
        let text = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
        return text.components(separatedBy: "\n--\n").compactMap { block in
            guard let newline = block.firstIndex(of: "\n") else { return nil }
            return (String(block[..<newline]), String(block[block.index(after: newline)...]))
        }
    }
}

/// A TAN sender that keeps every message instead of sending it; it can be told to fail, or
/// to hold each delivery until the test releases it.
final class RecordingSender: TANSender, CodeSource {
    struct Sent: Sendable {
        var channel: TANChannel
        var address: String
        var message: String
        /// The code: the message's first word.
        var code: String { String(message.prefix { $0 != " " }) }
    }

    let channels: Set<TANChannel>
    let sent = Mutex<[Sent]>([])
    let failing = Mutex(false)
    private let gate = Mutex<(held: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))
    let started: AsyncStream<Void>
    private let startedContinuation: AsyncStream<Void>.Continuation

    struct Refused: Error {}

    init(channels: Set<TANChannel> = [.sms, .email]) {
        self.channels = channels
        (started, startedContinuation) = AsyncStream.makeStream()
    }

    /// From now on each delivery waits for ``release()``.
    func hold() { gate.withLock { $0.held = true } }

    /// Lets every held delivery go on and stops holding.
    func release() {
        let waiters = gate.withLock { g in
            g.held = false
            defer { g.waiters = [] }
            return g.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    func send(_ message: String, over channel: TANChannel, to address: String) async throws {
        startedContinuation.yield()
        await withCheckedContinuation { continuation in
            let wait = gate.withLock { g in
                if g.held { g.waiters.append(continuation) }
                return g.held
            }
            if !wait { continuation.resume() }
        }
        if failing.withLock({ $0 }) { throw Refused() }
        sent.withLock { $0.append(Sent(channel: channel, address: address, message: message)) }
    }

    /// The code of the last message to `address`.
    func lastCode(to address: String) throws -> String {
        let last = sent.withLock { $0.last { $0.address == address } }
        return try #require(last).code
    }

    var count: Int { sent.withLock { $0.count } }
}

/// Instances and helpers the two-factor tests share.
enum TwoFactor {
    static let kiosk = InstanceID("kiosk")!
    static let kioskPassword = "kiosk pass phrase"
    static let email = "owner@example.com"
    static let phone = "+41791234567"
    static let mintBody = #"{"scope":"all:refreshable"}"#

    /// A harness whose engine sends TANs with `sender`, with `kiosk` (e-mail and phone).
    static func harness(
        sender: any TANSender, mandatory: Bool = false, allChannels: Bool = false,
        policy: (inout ChallengePolicy) -> Void = { _ in }
    ) async throws -> APIHarness {
        let h = try await APIHarness(configure: { c in
            c.twoFactor.sender = sender
            c.twoFactor.mandatory = mandatory
            c.twoFactor.requireAllChannels = allChannels
            policy(&c.twoFactor.policy)
        })
        try await h.engine.createInstance(
            .init(
                id: kiosk, name: "Kiosk", auth: .password(kioskPassword), email: email,
                phoneNumber: phone, addressesVouched: false))
        h.remember(kioskPassword)
        return h
    }

    static var kioskBasic: String { basic("kiosk", kioskPassword) }

    /// The challenge ids of a `202`, by channel name.
    static func challenges(_ response: TestResponse) throws -> [String: String] {
        #expect(response.status == .accepted)
        var out: [String: String] = [:]
        for entry in try #require(response.json["challenges"]?.arrayValue) {
            let id = try #require(entry["challenge_id"]?.stringValue)
            let channel = try #require(entry["tan_channel"]?.stringValue)
            out[channel] = id
        }
        return out
    }

    /// Mints with kiosk's password, expects 202, and returns the e-mail challenge's id.
    static func emailChallengeForMint(client: any TestClientProtocol) async throws -> String {
        try #require(
            try challenges(
                try await client.call(
                    .post, "/instances/kiosk/private/token", auth: kioskBasic, json: mintBody))[
                    "email"])
    }

    /// Asks for a code, answers it, and expects 200 then 204.
    static func solve(
        _ id: String, at address: String, sender: some CodeSource, client: any TestClientProtocol,
        harness: APIHarness, instance: String = "kiosk"
    ) async throws {
        let sent = try await client.call(
            .post, "/instances/\(instance)/challenge/\(id)", json: "{}")
        #expect(sent.status == .ok)
        let code = try sender.lastCode(to: address)
        harness.remember(code)
        let confirmed = try await client.call(
            .post, "/instances/\(instance)/challenge/\(id)/confirm", json: #"{"tan":"\#(code)"}"#)
        #expect(confirmed.status == .noContent)
    }

    /// Mints `kiosk`'s token with its password through an e-mail challenge: 202, code sent
    /// and confirmed, the repeated request 200. Returns the token (remembered as a secret).
    static func mintThroughEmail(
        sender: RecordingSender, client: any TestClientProtocol, harness: APIHarness
    ) async throws -> String {
        let mint = "/instances/kiosk/private/token"
        let id = try await emailChallengeForMint(client: client)
        try await solve(id, at: email, sender: sender, client: client, harness: harness)
        let minted = try await client.call(
            .post, mint, auth: kioskBasic, json: mintBody, challengeIDs: [id])
        #expect(minted.status == .ok)
        let token = try #require(minted.json["access_token"]?.stringValue)
        harness.remember(token)
        return token
    }

    /// Every event type of the log, in order.
    static func eventTypes(_ log: InMemoryEventLog) throws -> [String] {
        try log.read(from: 1, limit: 1_000_000).map(\.type)
    }

    /// Fails when any remembered secret (codes included) appears in any record's payload.
    static func expectNoSecretInEvents(_ harness: APIHarness) throws {
        let records = try harness.log.read(from: 1, limit: 1_000_000)
        let secrets = harness.secrets.withLock { $0 }
        for record in records {
            let bytes = record.payload + Array(record.type.utf8) + Array(record.stream.utf8)
            for secret in secrets {
                let needle = Array(secret.utf8)
                let found =
                    bytes.count >= needle.count
                    && (0...(bytes.count - needle.count)).contains { at in
                        bytes[at..<(at + needle.count)].elementsEqual(needle)
                    }
                #expect(!found, "a secret reached event \(record.sequence) (\(record.type))")
            }
        }
    }
}

extension TestClientProtocol {
    /// A request with extra headers (for `Taler-Challenge-Ids`).
    func call(
        _ method: HTTPRequest.Method, _ uri: String, auth: String?, json: String?,
        challengeIDs: [String]
    ) async throws -> TestResponse {
        var headers: HTTPFields = [:]
        if let auth { headers[.authorization] = auth }
        if json != nil { headers[.contentType] = "application/json" }
        headers[HTTPField.Name("Taler-Challenge-Ids")!] = challengeIDs.joined(separator: ",")
        return try await execute(
            uri: uri, method: method, headers: headers,
            body: json.map { ByteBuffer(string: $0) })
    }
}
