import Dispatch
import EventLogTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Synchronization
import Testing
import TokenEngine

/// The built `tallystick` beside the stand-in merchant playing the real one's instance
/// management (spec §9): `upstream connect`, then an instance creation killed with SIGKILL at
/// each step of its two sides, then the same request again.
@Suite("Live: instances kept in step with a merchant")
struct LiveUpstreamTests {
    typealias Server = LiveServerTests.Server

    /// Waits, off Swift's cooperative pool (the read blocks), until `server` prints `text`.
    static func waitForLine(containing text: String, from server: Server) async -> Bool {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                var seen = server.output
                while !seen.contains(text) {
                    let chunk = server.outputPipe.fileHandleForReading.availableData
                    guard !chunk.isEmpty else { break }
                    seen += String(decoding: chunk, as: UTF8.self)
                }
                continuation.resume(returning: seen.contains(text))
            }
        }
    }

    /// ``LiveNginxTests/run(_:input:product:)`` off Swift's cooperative pool: it blocks until
    /// the command exits, and the stand-in merchant the command talks to answers on that pool.
    static func run(_ arguments: [String], input: String? = nil, product: String = "tallystick")
        async throws -> (Int32, String)
    {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(
                    with: Result {
                        try LiveNginxTests.run(arguments, input: input, product: product)
                    })
            }
        }
    }

    /// `POST /management/instances` with `body`, as `admin` by its password (the legacy
    /// Bearer form), on `port`: the status, or `nil` when the connection broke.
    static func create(_ body: String, port: Int, adminPassword: String) async -> Int? {
        try? await TestClient.withClient(
            host: "127.0.0.1", port: port, configuration: LiveServerTests.patient
        ) { client in
            let response = try await client.post(
                "/management/instances",
                headers: [
                    .authorization: "Bearer secret-token:\(adminPassword)",
                    .contentType: "application/json",
                ],
                body: ByteBuffer(string: body))
            return response.status.code
        }
    }

    @Test(
        "a creation killed at a step is repaired by the same request",
        arguments: [Failpoint.beforeMerchant, .afterMerchant, .afterAppend])
    func aKilledCreationIsRepairedByTheSameRequest(at failpoint: Failpoint) async throws {
        let directory = try TemporaryDirectory(prefix: "live-upstream")
        defer { directory.remove() }
        let data = directory.appending("data")
        let adminPassword = LiveNginxTests.secret("merchant-admin")
        let clientPassword = LiveNginxTests.secret("shop-client")
        let model = MerchantModel(adminPassword: adminPassword)
        let body = UpstreamRouteTests.creation("shop", password: clientPassword)
        let said = Mutex<[String]>([])
        try await StandInMerchant(model: model).run { port in
            let upstream = "http://127.0.0.1:\(port)"
            let (connected, connecting) = try await Self.run(
                ["upstream", "connect", "--data-dir", data, "--upstream", upstream],
                input: adminPassword + "\n")
            #expect(connected == 0, "\(connecting)")
            said.withLock { $0.append(connecting) }
            let serve = [
                "serve", "--port", "0", "--data-dir", data, "--upstream", upstream,
                "--log-level", "trace",
            ]

            // 1. The creation stops at the failpoint; the server is killed there.
            let first = try Server.start(
                arguments: serve, environment: ["TALLYSTICK_FAILPOINT": failpoint.rawValue])
            defer { first.killIfRunning() }
            let interrupted = Task {
                let status = await Self.create(body, port: first.port, adminPassword: adminPassword)
                // Answered: the failpoint was not reached; end the wait for its line.
                if status != nil { first.killIfRunning() }
                return status
            }
            let reached = await Self.waitForLine(
                containing: "failpoint \(failpoint.rawValue) reached", from: first)
            #expect(reached)
            first.killIfRunning()
            #expect(first.process.terminationReason == .uncaughtSignal)
            #expect(await interrupted.value != 204)
            said.withLock { $0.append(first.output + first.takeLog()) }
            switch failpoint {
            case .beforeMerchant: #expect(model.instance("shop") == nil)
            case .afterMerchant, .afterAppend: #expect(model.instance("shop") != nil)
            case .checkpointBetweenParts: Issue.record("not a step of a change on both sides")
            }

            // 2. The same request again: both sides have the instance, once.
            let second = try Server.start(arguments: serve, environment: [:])
            defer { second.killIfRunning() }
            #expect(await Self.create(body, port: second.port, adminPassword: adminPassword) == 204)
            let listed: Int? = try? await TestClient.withClient(
                host: "127.0.0.1", port: second.port, configuration: LiveServerTests.patient
            ) { client in
                try await client.get(
                    "/management/instances/shop",
                    headers: [.authorization: "Bearer secret-token:\(adminPassword)"]
                ).status.code
            }
            #expect(listed == 200)
            #expect(second.stop() == 0)
            said.withLock { $0.append(second.output + second.takeLog()) }
            #expect(model.creations == 1)
            let merchantPassword = try #require(model.instance("shop")?.password)

            // Tallystick's backend credential is one the merchant accepts for the instance,
            // and the log vouches for it.
            let file = try String(contentsOfFile: data + "/backend-credentials", encoding: .utf8)
            let line = try #require(file.split(separator: "\n").first { $0.hasPrefix("shop ") })
            let credential = String(line.dropFirst("shop ".count))
            #expect(model.accepts(credential, for: "shop"))
            let (listedStatus, listing) = try await Self.run(
                ["backend-credential", "list", "--data-dir", data])
            #expect(listedStatus == 0)
            #expect(listing.contains("shop ") && !listing.contains("lacks"), "\(listing)")
            said.withLock { $0.append(listing) }

            // One creation and one merchant record in the log.
            let (dumped, dump) = try await Self.run(
                ["dump", "--data-dir", data], product: "tallystick-log")
            #expect(dumped == 0)
            let shopLines = dump.split(separator: "\n").filter { $0.contains(#""stream":"shop""#) }
            #expect(shopLines.filter { $0.contains(#""type":"instance-created.v1""#) }.count == 1)
            #expect(
                shopLines.filter { $0.contains(#""type":"merchant-instance-changed.v1""#) }.count
                    == 1)
            said.withLock { $0.append(dump) }

            // No password or credential in any output, log line or event.
            let everything = said.withLock { $0.joined(separator: "\n") }
            for secret in [adminPassword, clientPassword, merchantPassword, credential]
            where everything.contains(secret) {
                Issue.record("a secret (\(secret.prefix(6))…) appears in an output or event")
            }
        }
    }

    @Test func staffOfAnAdoptedInstanceLogInThroughNginxAndOnlyTallystickReachesTheMerchant()
        async throws
    {
        let directory = try TemporaryDirectory(prefix: "live-adopt")
        defer { directory.remove() }
        let data = directory.appending("data")
        let adminPassword = LiveNginxTests.secret("merchant-admin")
        let staffPassword = LiveNginxTests.secret("staff")
        let model = MerchantModel(adminPassword: adminPassword)
        let merchant = StandInMerchant(model: model)
        let said = Mutex<[String]>([])
        try await merchant.run { port in
            let upstream = "http://127.0.0.1:\(port)"
            // The merchant's instance as its staff have used it: their password, straight at
            // the merchant.
            let merchantAdmin = Self.mintDirectly(model, "admin", adminPassword)
            _ = model.answer(
                method: "POST", path: "/management/instances",
                headers: [.authorization: "Bearer \(merchantAdmin)"],
                body: UpstreamRouteTests.creation("legacy", password: staffPassword))
            #expect(!Self.mintDirectly(model, "legacy", staffPassword).isEmpty)

            for (arguments, input) in [
                (["upstream", "connect"], adminPassword),
                (["upstream", "adopt", "legacy", "--rotate-merchant-password"], staffPassword),
            ] {
                let (status, output) = try await Self.run(
                    arguments + ["--data-dir", data, "--upstream", upstream], input: input + "\n")
                #expect(status == 0, "\(arguments): \(output)")
                said.withLock { $0.append(output) }
            }
            // After the rotation the staff's password no longer works at the merchant.
            #expect(Self.mintDirectly(model, "legacy", staffPassword).isEmpty)
            let merchantPassword = try #require(model.instance("legacy")?.password)
            #expect(merchantPassword != staffPassword)

            let server = try Server.start(
                arguments: [
                    "serve", "--port", "0", "--data-dir", data, "--upstream", upstream,
                    "--internal-listen", "127.0.0.1:0", "--trusted-proxies", "127.0.0.1",
                    "--log-level", "trace",
                ], environment: [:])
            defer { server.killIfRunning() }
            let internalURL = try LiveInternalListenerTests.internalLine(of: server)
            let internalPort = try #require(
                internalURL.split(separator: ":").last.flatMap { Int($0) })
            let nginx = try await NginxServer.start(
                site: NginxServer.Site(
                    listen: "", tallystickPublic: "127.0.0.1:\(server.port)",
                    tallystickInternal: "127.0.0.1:\(internalPort)",
                    merchant: "127.0.0.1:\(port)", prefix: directory.appending("nginx")))
            defer { nginx.stop() }
            try await TestClient.withClient(
                host: "127.0.0.1", port: nginx.port, configuration: LiveServerTests.patient
            ) { client in
                // Staff log in through nginx with the password they know...
                let token = try await LiveNginxTests.mint(
                    client, "/instances/legacy/private/token",
                    authorization: MerchantModel.basic("legacy", staffPassword),
                    body: #"{"scope":"order-simple"}"#)
                // ... and reach the merchant, which sees only Tallystick's backend token.
                let orders = try await LiveNginxTests.request(
                    client, .get, "/instances/legacy/private/orders",
                    headers: [
                        .authorization: "Bearer \(token)",
                        HTTPField.Name("X-Test-Request")!: "orders",
                    ])
                #expect(orders.status == .ok)
                #expect(text(orders.body ?? ByteBuffer()) == StandInMerchant.answer)
                let seen = try #require(merchant.requests(tagged: "orders").first)
                let credential = try #require(seen.values("Authorization").first)
                #expect(
                    model.accepts(
                        credential.replacingOccurrences(of: "Bearer ", with: ""), for: "legacy"))
                #expect(
                    !credential.contains(token.replacingOccurrences(of: "secret-token:", with: "")))
                said.withLock { $0.append(token) }
            }
            nginx.stop()
            #expect(server.stop() == 0)
            said.withLock { $0.append(server.output + server.takeLog() + nginx.logs()) }
            let everything = said.withLock { $0.joined(separator: "\n") }
            for secret in [adminPassword, staffPassword, merchantPassword]
            where everything.contains(secret) {
                Issue.record("a secret (\(secret.prefix(6))…) appears in an output or log")
            }
        }
    }

    /// Mints straight at the model with HTTP Basic: the token (`secret-token:...`), or "" when
    /// the merchant refused the password.
    static func mintDirectly(_ model: MerchantModel, _ id: String, _ password: String) -> String {
        let answer = model.answer(
            method: "POST", path: "/instances/\(id)/private/token",
            headers: [.authorization: MerchantModel.basic(id, password)], body: "{}")
        guard answer?.status == 200, let body = answer?.body,
            let start = body.range(of: #""access_token":""#)?.upperBound
        else { return "" }
        return String(body[start...].prefix { $0 != "\"" })
    }
}
