import EventLogTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Synchronization
import Testing
import TokenDomain

/// Spec §9 end to end: Debian's nginx with the shipped `tools/nginx/tallystick.conf`, the real
/// `tallystick serve` (public and internal listener) and a stand-in merchant that records
/// what reaches it. One nginx, one server and one stand-in serve every row of the endpoint
/// table for every scope (requests sent on a few connections at once).
@Suite("Live: nginx in front of the merchant")
struct LiveNginxTests {
    typealias Server = LiveServerTests.Server

    /// The placeholders filled with addresses nobody listens on: enough for `nginx -t`.
    static func idleSite(prefix: String) -> NginxServer.Site {
        NginxServer.Site(
            listen: "127.0.0.1:1", tallystickPublic: "127.0.0.1:2",
            tallystickInternal: "unix:\(prefix)/internal.sock", merchant: "127.0.0.1:3",
            prefix: prefix)
    }

    @Test func theShippedSiteRendersAndNginxAcceptsIt() throws {
        let directory = try TemporaryDirectory(prefix: "live-nginx-t")
        defer { directory.remove() }
        let site = Self.idleSite(prefix: directory.appending("nginx"))
        let (status, said) = try NginxServer.check(site)
        #expect(status == 0, "\(said)")
        let rendered = try NginxServer.render(site)
        let directives = rendered.split(separator: "\n").map {
            $0.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        }.joined(separator: "\n")
        // Nothing cached; the access log in nginx's predefined format (no header in it).
        #expect(!directives.contains("proxy_cache"))
        #expect(!directives.contains("log_format"))
        #expect(directives.contains("access_log \(site.prefix)/access.log combined;"))
        for secretVariable in [
            "$http_authorization", "$tallystick_backend;\n    log",
            "$upstream_http_x_taler_backend_authorization;\n    log",
        ] {
            #expect(!directives.contains(secretVariable))
        }
    }

    // MARK: - The deployment

    /// Passwords, backend credentials and every token of the run: none may appear in a log.
    final class Secrets: Sendable {
        private let values = Mutex<[String]>([])
        func add(_ secret: String) {
            values.withLock {
                $0.append(secret.replacingOccurrences(of: "secret-token:", with: ""))
            }
        }
        var all: [String] { values.withLock { $0 } }
    }

    static func secret(_ name: String) -> String {
        "\(name)-\(UUID().uuidString.prefix(13))"
    }

    /// `POST PATH` with `authorization` and `body`; the `access_token` of a 200.
    static func mint(
        _ client: TestClient, _ path: String, authorization: String, body: String
    ) async throws -> String {
        let response = try await request(
            client, .post, path,
            headers: [.authorization: authorization, .contentType: "application/json"], body: body)
        #expect(response.status == .ok, "\(path) \(body)")
        return try LiveTwoFactorTests.field("access_token", of: text(response.body ?? ByteBuffer()))
    }

    /// `METHOD PATH` with a `Host` header (nginx refuses HTTP/1.1 without one).
    static func request(
        _ client: TestClient, _ method: HTTPRequest.Method, _ path: String, headers: HTTPFields,
        body: String? = nil
    ) async throws -> TestClient.Response {
        try await client.execute(
            TestClient.Request(
                path, method: method, authority: "localhost", headers: headers,
                body: body.map { ByteBuffer(string: $0) }))
    }

    /// Runs `tallystick ARGUMENTS` (or another product) with `input` on standard input:
    /// its exit status and everything it wrote.
    static func run(_ arguments: [String], input: String? = nil, product: String = "tallystick")
        throws -> (Int32, String)
    {
        let process = Process()
        process.executableURL = try LiveServerTests.executable(product)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        for key in ["TALER_MERCHANT_PASSWORD", "TALLYSTICK_DATA_DIR", "TALLYSTICK_CONFIG"] {
            environment.removeValue(forKey: key)
        }
        process.environment = environment
        let output = NSTemporaryDirectory() + "tallystick-run-\(UUID().uuidString).txt"
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: output) }
        let sink = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        process.standardOutput = sink
        process.standardError = sink
        let stdin = Pipe()
        process.standardInput = stdin
        try process.run()
        if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
        try stdin.fileHandleForWriting.close()
        process.waitUntilExit()
        return (
            process.terminationStatus, (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        )
    }

    /// The tokens minted before the deployment starts.
    struct Tokens: Sendable {
        /// One token of `shop` per scope of the matrix, and one of `admin`.
        var shop: [(TokenScope, String)] = []
        var admin: [(TokenScope, String)] = []
        /// `all:refreshable` of `shop` and of `admin`; `all` of `bare` (no backend credential).
        var shopAll = ""
        var adminAll = ""
        var bare = ""
    }

    // MARK: - Probes

    /// What a probe's answer must be.
    enum Expectation: Sendable {
        /// Reached the stand-in once, with `Bearer secret-token:BACKEND` (nil: a public
        /// path, no `Authorization` at all).
        case merchant(backend: String?)
        /// Refused by Tallystick's check with a Taler body: never reached the stand-in.
        case refused(status: Int, code: Int)
        /// 403 because the instance has no backend credential: a Taler body that says so.
        case missingBackend
        /// Answered by Tallystick's public listener (never the stand-in), with `status`.
        case tallystick(status: Int)
    }

    /// One request through nginx, tagged so that the stand-in's record can be matched.
    struct Probe: Sendable {
        var method: HTTPRequest.Method
        var path: String
        var authorization: String?
        var body: String?
        var expect: Expectation
        var tag = UUID().uuidString
        /// The client, as nginx forwards it (`X-Forwarded-For`, trusted from nginx): one
        /// address per probe, so that the login throttle (spec §10.4, which counts refused
        /// credentials per address and instance) sees many clients, as a real deployment
        /// does.
        var client = Probe.nextClient()

        private static let clients = Mutex(0)

        static func nextClient() -> String {
            let n = clients.withLock {
                $0 += 1
                return $0
            }
            return "10.\((n >> 16) & 255).\((n >> 8) & 255).\(n & 255)"
        }

        var label: String { "\(method) \(path) [\(authorization?.prefix(12) ?? "none")]" }
    }

    struct Answer: Sendable {
        var probe: Probe
        var status: Int
        var headers: HTTPFields
        var body: String
    }

    /// Sends every probe through nginx on `lanes` connections at once. A connection nginx
    /// closes (it does after the 500 of a check that answered neither 2xx, 401 nor 403, and
    /// some 400s) is replaced by a new one.
    static func send(_ probes: [Probe], port: Int, lanes: Int = 4) async throws -> [Answer] {
        try await withThrowingTaskGroup(of: [Answer].self) { group in
            for lane in 0..<lanes {
                let mine = probes.indices.filter { $0 % lanes == lane }.map { probes[$0] }
                group.addTask {
                    var answers = [Answer]()
                    var client: TestClient?
                    for probe in mine {
                        let current =
                            client
                            ?? {
                                let made = TestClient(
                                    host: "127.0.0.1", port: port,
                                    configuration: LiveServerTests.patient)
                                made.connect()
                                return made
                            }()
                        client = current
                        let answer = try await send(probe, current)
                        answers.append(answer)
                        if answer.headers[.connection]?.lowercased() == "close" {
                            try? await current.shutdown()
                            client = nil
                        }
                    }
                    try? await client?.shutdown()
                    return answers
                }
            }
            var all = [Answer]()
            for try await answers in group { all += answers }
            return all
        }
    }

    static func send(_ probe: Probe, _ client: TestClient) async throws -> Answer {
        var headers: HTTPFields = [
            HTTPField.Name("X-Test-Request")!: probe.tag,
            HTTPField.Name("X-Forwarded-For")!: probe.client,
        ]
        if let authorization = probe.authorization { headers[.authorization] = authorization }
        if probe.body != nil { headers[.contentType] = "application/json" }
        let response = try await client.execute(
            TestClient.Request(
                probe.path, method: probe.method, authority: "localhost", headers: headers,
                body: probe.body.map { ByteBuffer(string: $0) }))
        return Answer(
            probe: probe, status: Int(response.status.code), headers: response.headers,
            body: text(response.body ?? ByteBuffer()))
    }

    /// Checks each answer against its expectation and what the stand-in recorded.
    static func verify(_ answers: [Answer], merchant: StandInMerchant, secrets: Secrets) {
        let backendHeader = HTTPField.Name("X-Taler-Backend-Authorization")!
        for answer in answers {
            let probe = answer.probe
            if case .merchant = probe.expect { merchant.expect(tag: probe.tag) }
            let reached = merchant.requests(tagged: probe.tag)
            let label = probe.label
            #expect(answer.headers[backendHeader] == nil, "\(label): backend header to the client")
            for secret in secrets.all where answer.body.contains(secret) {
                Issue.record("\(label): a secret in the answer's body")
            }
            switch probe.expect {
            case .merchant(let backend):
                #expect(answer.status == 200, "\(label): \(answer.status) \(answer.body)")
                #expect(answer.body == StandInMerchant.answer, "\(label)")
                #expect(reached.count == 1, "\(label): reached the merchant \(reached.count)x")
                guard let request = reached.first else { continue }
                #expect(request.method == probe.method.rawValue, "\(label)")
                #expect(request.path == probe.path, "\(label): \(request.path)")
                #expect(
                    request.values("Authorization")
                        == (backend.map { ["Bearer secret-token:\($0)"] } ?? []),
                    "\(label): Authorization to the merchant")
                #expect(request.values(backendHeader.rawName).isEmpty, "\(label)")
                if let body = probe.body { #expect(request.body == body, "\(label)") }
                if let presented = probe.authorization {
                    let credential = presented.split(separator: " ").last.map(String.init) ?? ""
                    #expect(
                        !request.headerText.contains(
                            credential.replacingOccurrences(of: "secret-token:", with: "")),
                        "\(label): the client's credential reached the merchant")
                }
            case .refused(let status, let code):
                #expect(answer.status == status, "\(label): \(answer.status) \(answer.body)")
                #expect(answer.body.contains(#""code":\#(code)"#), "\(label): \(answer.body)")
                #expect(reached.isEmpty, "\(label): a refused request reached the merchant")
                #expect(answer.headers[.contentType] == "application/json", "\(label)")
                if status == 401 {
                    #expect(answer.headers[values: .wwwAuthenticate] == ["Bearer"], "\(label)")
                }
            case .missingBackend:
                #expect(answer.status == 403, "\(label): \(answer.status) \(answer.body)")
                #expect(answer.body.contains(#""code":"#), "\(label): \(answer.body)")
                #expect(answer.body.lowercased().contains("backend"), "\(label): \(answer.body)")
                #expect(reached.isEmpty, "\(label): reached the merchant without a credential")
            case .tallystick(let status):
                #expect(answer.status == status, "\(label): \(answer.status) \(answer.body)")
                #expect(answer.body != StandInMerchant.answer, "\(label)")
                #expect(reached.isEmpty, "\(label): reached the merchant, not Tallystick")
            }
        }
    }

    /// The probes of the matrix for one instance's tokens: every row of `rows` under
    /// `prefix`, with every scope's token. Rows that are public, Tallystick's login
    /// (`POST /private/token`, sent here with each scope as its body: `token-refresh`),
    /// revocation, and challenges are probed apart.
    static func matrix(
        rows: [GuardedEndpoint], prefix: String, tokens: [(TokenScope, String)], backend: String,
        minting: Bool = true
    ) -> [Probe] {
        var probes = [Probe]()
        for (scope, token) in tokens {
            for row in rows {
                let allowed = row.grants(scope)
                let expect: Expectation
                switch (row.servedBy, row.access) {
                case (_, .public), (.tallystickOrMerchant, _), (_, .login), (_, .anyValidToken):
                    continue
                case (.merchant, _):
                    expect = allowed ? .merchant(backend: backend) : .refused(status: 403, code: 16)
                case (.tallystick, _):
                    if row.mutates && allowed {
                        continue
                    } else {
                        expect =
                            allowed ? .tallystick(status: 200) : .refused(status: 403, code: 16)
                    }
                }
                probes.append(
                    Probe(
                        method: HTTPRequest.Method(row.method)!, path: prefix + row.path,
                        authorization: "Bearer \(token)", body: row.body, expect: expect))
            }
            // Minting with a Bearer token: Tallystick's own endpoint, `token-refresh`.
            guard minting else { continue }
            probes.append(
                Probe(
                    method: .post, path: prefix + "/private/token",
                    authorization: "Bearer \(token)",
                    body: #"{"scope":"\#(scope.scope.name)","duration":{"d_us":1000000}}"#,
                    expect: scope.refreshable
                        ? .tallystick(status: 200) : .refused(status: 403, code: 16)))
        }
        return probes
    }

    @Test func nginxWithTheShippedSiteGuardsTheMerchant() async throws {
        let directory = try TemporaryDirectory(prefix: "live-nginx")
        defer { directory.remove() }
        let data = directory.appending("data")
        let secrets = Secrets()
        let password = [
            "admin": Self.secret("admin-pw"), "shop": Self.secret("shop-pw"),
            "bare": Self.secret("bare-pw"), "tan": Self.secret("tan-pw"),
        ]
        let backend = ["admin": Self.secret("admin-backend"), "shop": Self.secret("shop-backend")]
        for value in Array(password.values) + Array(backend.values) { secrets.add(value) }
        let messages = directory.appending("messages")
        let helper = directory.appending("helper.sh")
        try "#!/bin/sh\n{ printf '%s\\n' \"$1\"; cat; printf '\\n'; } >> '\(messages)'\n"
            .write(toFile: helper, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: helper)
        let serve = [
            "serve", "--port", "0", "--data-dir", data, "--internal-listen", "127.0.0.1:0",
            "--log-level", "trace", "--helper-email", helper, "--trusted-proxies", "127.0.0.1",
        ]
        let environment = ["TALER_MERCHANT_PASSWORD": password["admin"]!]
        var said = [String]()

        // 1. Instances and tokens, straight to a first server.
        let first = try Server.start(arguments: serve, environment: environment)
        defer { first.killIfRunning() }
        let tokens: Tokens = try await TestClient.withClient(
            host: "127.0.0.1", port: first.port, configuration: LiveServerTests.patient
        ) { client in
            var tokens = Tokens()
            let adminBasic =
                "Basic " + Data("admin:\(password["admin"]!)".utf8).base64EncodedString()
            tokens.adminAll = try await Self.mint(
                client, "/private/token", authorization: adminBasic,
                body: #"{"scope":"all:refreshable"}"#)
            for (id, extra) in [
                ("shop", ""), ("bare", ""), ("tan", #","email":"tan@example.com""#),
            ] {
                let created = try await client.post(
                    "/management/instances",
                    headers: [
                        .authorization: "Bearer \(tokens.adminAll)",
                        .contentType: "application/json",
                    ],
                    body: ByteBuffer(
                        string:
                            #"{"id":"\#(id)","name":"\#(id)","auth":{"method":"token","password":"\#(password[id]!)"}\#(extra)}"#
                    ))
                #expect(created.status == .noContent, "create \(id)")
            }
            func basic(_ id: String) -> String {
                "Basic " + Data("\(id):\(password[id]!)".utf8).base64EncodedString()
            }
            tokens.shopAll = try await Self.mint(
                client, "/instances/shop/private/token", authorization: basic("shop"),
                body: #"{"scope":"all:refreshable"}"#)
            tokens.bare = try await Self.mint(
                client, "/instances/bare/private/token", authorization: basic("bare"),
                body: #"{"scope":"all"}"#)
            for scope in GuardedEndpoint.scopes {
                let body = #"{"scope":"\#(scope.wireName)","duration":{"d_us":"forever"}}"#
                tokens.shop.append(
                    (
                        scope,
                        try await Self.mint(
                            client, "/instances/shop/private/token",
                            authorization: "Bearer \(tokens.shopAll)", body: body)
                    ))
                tokens.admin.append(
                    (
                        scope,
                        try await Self.mint(
                            client, "/private/token", authorization: "Bearer \(tokens.adminAll)",
                            body: body)
                    ))
            }
            return tokens
        }
        for token in [tokens.shopAll, tokens.adminAll, tokens.bare] { secrets.add(token) }
        for (_, token) in tokens.shop + tokens.admin { secrets.add(token) }
        #expect(first.stop() == 0)
        said.append(first.output + first.takeLog())

        // 2. Backend credentials, offline (admin and shop; bare has none).
        for id in ["admin", "shop"] {
            let (status, output) = try Self.run(
                ["backend-credential", "set", id, "--data-dir", data], input: backend[id]!)
            #expect(status == 0, "backend-credential set \(id): \(output)")
            said.append(output)
        }
        let (listed, listing) = try Self.run(["backend-credential", "list", "--data-dir", data])
        #expect(listed == 0, "\(listing)")
        #expect(listing.contains("admin") && listing.contains("shop"), "\(listing)")
        said.append(listing)

        // 3. The deployment: the stand-in, the server again, nginx with the shipped site.
        let merchant = StandInMerchant()
        let second = try Server.start(arguments: serve, environment: environment)
        defer { second.killIfRunning() }
        let internalURL = try LiveInternalListenerTests.internalLine(of: second)
        let internalPort = try #require(internalURL.split(separator: ":").last.flatMap { Int($0) })
        let nginxLogs: String = try await merchant.run { merchantPort in
            let nginx = try await NginxServer.start(
                site: NginxServer.Site(
                    listen: "", tallystickPublic: "127.0.0.1:\(second.port)",
                    tallystickInternal: "127.0.0.1:\(internalPort)",
                    merchant: "127.0.0.1:\(merchantPort)", prefix: directory.appending("nginx")))
            defer { nginx.stop() }
            try await Self.exercise(
                nginx: nginx.port, tallystick: second.port, internalPort: internalPort,
                merchant: merchant, tokens: tokens, password: password, backend: backend,
                secrets: secrets)
            nginx.stop()
            return nginx.logs()
        }
        #expect(second.stop() == 0)
        said.append(second.output + second.takeLog())
        said.append(nginxLogs)
        #expect(nginxLogs.contains("\"GET /instances/shop/private/orders HTTP/1.1\" 200"))

        // 4. No secret in any output, event or nginx log.
        let (dumped, dump) = try Self.run(
            ["dump", "--data-dir", data], product: "tallystick-log")
        #expect(dumped == 0)
        #expect(dump.contains("token-issued"))
        said.append(dump)
        let everything = said.joined(separator: "\n")
        for secret in secrets.all where everything.contains(secret) {
            Issue.record("a secret (\(secret.prefix(8))…) appears in a log, event or output")
        }
    }

    static func probe(
        _ method: HTTPRequest.Method, _ path: String, _ authorization: String?,
        body: String? = nil, _ expect: Expectation
    ) -> Probe {
        Probe(method: method, path: path, authorization: authorization, body: body, expect: expect)
    }

    /// Everything sent through nginx once the deployment runs.
    static func exercise(
        nginx: Int, tallystick: Int, internalPort: Int, merchant: StandInMerchant, tokens: Tokens,
        password: [String: String], backend: [String: String], secrets: Secrets
    ) async throws {
        let shopBackend = backend["shop"]!
        let adminBackend = backend["admin"]!
        let all = GuardedEndpoint.all
        let guarded = all.filter {
            if case .merchant = $0.servedBy, $0.access != .public { return true }
            return false
        }
        let publicRows = all.filter {
            if case .merchant = $0.servedBy, $0.access == .public { return true }
            return false
        }

        // Every row, every scope: shop's tokens under /instances/shop, admin's at the root
        // (the /management rows included).
        var probes = matrix(
            rows: all.filter(\.prefixed), prefix: "/instances/shop", tokens: tokens.shop,
            backend: shopBackend)
        probes += matrix(rows: all, prefix: "", tokens: tokens.admin, backend: adminBackend)
        // Public paths pass without a credential, and a client's token never reaches the
        // merchant on them.
        for row in publicRows {
            for prefix in row.prefixed ? ["", "/instances/shop"] : [""] {
                for authorization in [nil, "Bearer \(tokens.shopAll)"] {
                    probes.append(
                        probe(
                            HTTPRequest.Method(row.method)!, prefix + row.path, authorization,
                            body: row.body, .merchant(backend: nil)))
                }
            }
        }
        // Credentials the check refuses, on every merchant row: none, and a valid token of
        // an instance without a backend credential. Another instance's token counts as a
        // failed login of the path's instance, and after 20 an instance's new clients wait
        // (spec §10.4): it is sent on a few rows only.
        for row in guarded where row.prefixed {
            let method = HTTPRequest.Method(row.method)!
            let shopPath = "/instances/shop" + row.path
            probes.append(
                probe(method, shopPath, nil, body: row.body, .refused(status: 401, code: 2015)))
            probes.append(
                probe(
                    method, "/instances/bare" + row.path, "Bearer \(tokens.bare)", body: row.body,
                    .missingBackend))
            if row.path == "/private/orders" {
                probes.append(
                    probe(
                        method, shopPath, "Bearer \(tokens.adminAll)", body: row.body,
                        .refused(status: 403, code: 2015)))
            }
        }
        for row in guarded where !row.prefixed {
            for (_, token) in tokens.shop.prefix(2) {
                probes.append(
                    probe(
                        HTTPRequest.Method(row.method)!, row.path, "Bearer \(token)",
                        body: row.body, .refused(status: 403, code: 2015)))
            }
        }
        let orders = "/instances/shop/private/orders"
        let unknown = "secret-token:" + String(repeating: "7", count: 52)
        let shopBasic = "Basic " + Data("shop:\(password["shop"]!)".utf8).base64EncodedString()
        probes += [
            probe(.get, orders, "Bearer \(unknown)", .refused(status: 401, code: 2015)),
            probe(.get, orders, "Bearer secret-token:", .refused(status: 401, code: 2015)),
            probe(.get, orders, shopBasic, .refused(status: 401, code: 2015)),
            // The legacy password credential has every right (spec §3).
            probe(
                .get, orders, "Bearer secret-token:\(password["shop"]!)",
                .merchant(backend: shopBackend)),
            // `/instances/admin/...` is the root (spec §1).
            probe(
                .get, "/instances/admin/private/orders", "Bearer \(tokens.adminAll)",
                .merchant(backend: adminBackend)),
        ]
        // Ambiguous paths (spec §9): 400, code 26, whatever nginx would make of them.
        for path in [
            "/instances/shop/private/x/../orders", "/instances/shop/private//orders",
            "/instances/shop/private/orders/a%2Fb", "/instances/shop/private/%2e%2e/orders",
            "/instances/shop/private/./orders",
        ] {
            probes.append(
                probe(.get, path, "Bearer \(tokens.shopAll)", .refused(status: 400, code: 26)))
        }
        verify(try await send(probes, port: nginx), merchant: merchant, secrets: secrets)

        // What depends on order: revocation, challenges, Tallystick's own changes.
        let authzTag: String = try await TestClient.withClient(
            host: "127.0.0.1", port: nginx, configuration: LiveServerTests.patient
        ) { client in
            func check(_ probes: [Probe]) async throws {
                verify(
                    try await send(probes, port: nginx, lanes: 1), merchant: merchant,
                    secrets: secrets)
            }
            // A token revoked through nginx is refused on its very next request.
            let fresh = try await mint(
                client, "/instances/shop/private/token", authorization: "Bearer \(tokens.shopAll)",
                body: #"{"scope":"order-simple"}"#)
            secrets.add(fresh)
            try await check([
                probe(.get, orders, "Bearer \(fresh)", .merchant(backend: shopBackend)),
                probe(
                    .delete, "/instances/shop/private/token", "Bearer \(fresh)",
                    .tallystick(status: 204)),
                probe(.get, orders, "Bearer \(fresh)", .refused(status: 401, code: 2015)),
            ])

            // A refused credential counts once in the login throttle: nginx asks the check
            // once and answers with the Taler body the check sent as X-Tallystick-Error. One
            // address's six wrong tokens are six plain refusals (asked twice, the third
            // would already be throttled); the sixth blocks that address for a second, so
            // its seventh, sent right after, is refused with Retry-After, passed on too.
            let guesser = Probe.nextClient()
            let unknownBare = "Bearer secret-token:" + String(repeating: "8", count: 52)
            var guesses = (0..<7).map { _ in
                probe(
                    .get, "/instances/bare/private/orders", unknownBare,
                    .refused(status: 401, code: 2015))
            }
            for index in guesses.indices { guesses[index].client = guesser }
            let guessed = try await send(guesses, port: nginx, lanes: 1)
            verify(guessed, merchant: merchant, secrets: secrets)
            for answer in guessed.dropLast() {
                #expect(answer.headers[.retryAfter] == nil, "\(answer.body)")
                #expect(!answer.body.contains("retry later"), "\(answer.body)")
            }
            #expect(guessed.last?.headers[.retryAfter].flatMap { Int($0) } ?? 0 >= 1)
            #expect(guessed.last?.body.contains("retry later") == true)
            for answer in guessed {
                #expect(answer.headers[HTTPField.Name("X-Tallystick-Error")!] == nil)
            }

            // Challenges: Tallystick answers for its own ids, the merchant for the others.
            let tanBasic = "Basic " + Data("tan:\(password["tan"]!)".utf8).base64EncodedString()
            let accepted = try await request(
                client, .post, "/instances/tan/private/token",
                headers: [.authorization: tanBasic, .contentType: "application/json"],
                body: #"{"scope":"readonly"}"#)
            #expect(accepted.status == .accepted)
            let challenge = try LiveTwoFactorTests.field(
                "challenge_id", of: text(accepted.body ?? ByteBuffer()))
            try await check([
                probe(
                    .post, "/instances/tan/challenge/\(challenge)", nil, body: "{}",
                    .tallystick(status: 200)),
                probe(
                    .post, "/instances/tan/challenge/\(challenge)/confirm", nil,
                    body: #"{"tan":"00000000"}"#, .tallystick(status: 409)),
                probe(
                    .post, "/instances/tan/challenge/merchant-7", "Bearer \(tokens.shopAll)",
                    body: "{}", .merchant(backend: nil)),
                probe(
                    .post, "/challenge/merchant-8/confirm", nil, body: #"{"tan":"12345678"}"#,
                    .merchant(backend: nil)),
            ])

            // Tallystick's own endpoints, allowed, change Tallystick (204s, not the stand-in's
            // 200s): the instance management, credentials, instance details, token deletion.
            let extraPassword = secret("extra-pw")
            secrets.add(extraPassword)
            let sacrificial = try await mint(
                client, "/instances/shop/private/token", authorization: "Bearer \(tokens.shopAll)",
                body: #"{"scope":"readonly","duration":{"d_us":"forever"}}"#)
            secrets.add(sacrificial)
            let listed = try await request(
                client, .get, "/instances/shop/private/tokens?limit=-1",
                headers: [.authorization: "Bearer \(tokens.shopAll)"])
            let serial = String(
                text(listed.body ?? ByteBuffer()).components(separatedBy: #""serial":"#).last?
                    .prefix { $0.isNumber } ?? "")
            let admin = "Bearer \(tokens.adminAll)"
            try await check([
                probe(
                    .post, "/management/instances", admin,
                    body:
                        #"{"id":"extra","name":"Extra","auth":{"method":"token","password":"\#(extraPassword)"}}"#,
                    .tallystick(status: 204)),
                probe(
                    .post, "/management/instances/extra/auth", admin,
                    body: #"{"method":"token","password":"\#(extraPassword)-2"}"#,
                    .tallystick(status: 204)),
                probe(.delete, "/management/instances/extra", admin, .tallystick(status: 204)),
                probe(
                    .patch, "/instances/shop/private", "Bearer \(tokens.shopAll)",
                    body: #"{"name":"Shop, renamed"}"#, .tallystick(status: 204)),
                probe(
                    .delete, "/instances/shop/private/tokens/\(serial)", "Bearer \(tokens.shopAll)",
                    .tallystick(status: 204)),
                probe(
                    .get, "/instances/shop/private/orders", "Bearer \(sacrificial)",
                    .refused(status: 401, code: 2015)),
                probe(
                    .post, "/instances/bare/private/auth", "Bearer \(tokens.bare)",
                    body: #"{"method":"token","password":"\#(extraPassword)-3"}"#,
                    .tallystick(status: 204)),
                probe(
                    .delete, "/instances/bare/private", "Bearer \(tokens.bare)",
                    .tallystick(status: 204)),
                probe(.get, "/config", nil, .tallystick(status: 200)),
            ])

            // The forward-auth endpoint is never a client's: nginx sends /authz/... like any
            // path (to the merchant, after the check), and no answer carries a credential.
            let authz = try await send(
                probe(
                    .get, "/authz/auth-request", "Bearer \(tokens.shopAll)", .tallystick(status: 0)),
                client)
            #expect(authz.headers[HTTPField.Name("X-Taler-Backend-Authorization")!] == nil)
            for request in merchant.requests(tagged: authz.probe.tag) {
                #expect(request.values("Authorization").isEmpty)
            }
            return authz.probe.tag
        }

        // Nothing reached the stand-in but what was meant to (the /authz probe aside).
        for request in merchant.requests {
            let tag = request.values("X-Test-Request").first ?? "none"
            #expect(
                merchant.expected(tag: tag) || tag == authzTag,
                "\(request.method) \(request.path) reached the merchant unexpectedly")
        }
        let meant = merchant.requests.filter { $0.values("X-Test-Request").first != authzTag }
        #expect(meant.count == merchant.expectedCount, "each allowed request arrived once")

        // Tallystick's own listeners: /authz only on the internal one.
        let (public_, _) = RawHTTP.responses(
            try RawHTTP.exchange(
                port: tallystick,
                "GET /authz/auth-request HTTP/1.1\r\nHost: x\r\nX-Original-Method: GET\r\n"
                    + "X-Original-URI: /private/orders\r\nAuthorization: Bearer \(tokens.adminAll)"
                    + "\r\nConnection: close\r\n\r\n"),
            heads: [false])
        #expect(public_.first?.status == 404)
        try await TestClient.withClient(
            host: "127.0.0.1", port: internalPort, configuration: LiveServerTests.patient
        ) { client in
            let allowed = try await client.get(
                "/authz/auth-request",
                headers: [
                    .authorization: "Bearer \(tokens.shopAll)",
                    HTTPField.Name("X-Original-Method")!: "GET",
                    HTTPField.Name("X-Original-URI")!: "/instances/shop/private/orders",
                ])
            #expect(allowed.status == .ok)
            #expect(
                allowed.headers[HTTPField.Name("X-Taler-Backend-Authorization")!]
                    == "Bearer secret-token:\(shopBackend)")
            #expect(allowed.headers[HTTPField.Name("X-Tallystick-Instance")!] == "shop")
        }
    }
}
