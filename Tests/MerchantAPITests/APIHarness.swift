import EventLog
import EventLogTestSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Synchronization
import Testing
import TextCoding
import TokenDomain
import TokenEngine

@testable import MerchantAPI

/// Every log line written through a logger made by ``CapturingLogHandler``, rendered with its
/// metadata, so tests can search the whole output for secrets.
final class LogCapture: Sendable {
    let lines = Mutex<[String]>([])

    func append(_ line: String) { lines.withLock { $0.append(line) } }
    var text: String { lines.withLock { $0.joined(separator: "\n") } }
}

struct CapturingLogHandler: LogHandler {
    let capture: LogCapture
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var all = metadata
        if let extra = event.metadata { all.merge(extra) { $1 } }
        capture.append("\(event.level) \(event.message) \(all) \(event.source) \(event.file)")
    }
}

/// An API over an in-memory log with a manual clock, a cheap KDF, and captured logs.
///
/// Secrets used in a test are registered with ``remember(_:)`` (passwords, minted tokens);
/// ``finish()`` checks that none of them appears in any log line.
final class APIHarness: Sendable {
    let clock = ManualLogClock()
    let engine: TokenEngine
    let log: InMemoryEventLog
    let api: MerchantAPI
    let capture = LogCapture()
    let logger: Logger
    let secrets = Mutex<[String]>([])
    static let adminPassword = "admin pass phrase"
    static let shopPassword = "shop pass phrase"

    init(
        configure: (inout EngineConfiguration) -> Void = { _ in },
        throttle: LoginThrottle.Policy = LoginThrottle.Policy(),
        publicConfiguration: PublicConfiguration = PublicConfiguration(),
        trustedProxies: TrustedProxies = .none, shop: Bool = true
    ) async throws {
        var configuration = EngineConfiguration()
        configuration.passwordHashing = .testing
        configure(&configuration)
        let log = InMemoryEventLog(clock: clock)
        self.log = log
        engine = try await TokenEngine(log: log, configuration: configuration, clock: clock)
        let capture = capture
        var logger = Logger(label: "test") { _ in CapturingLogHandler(capture: capture) }
        logger.logLevel = .trace
        self.logger = logger
        api = MerchantAPI(
            engine: engine, clock: clock, throttle: LoginThrottle(policy: throttle),
            trustedProxies: trustedProxies, publicConfiguration: publicConfiguration,
            logger: logger)
        try await engine.createInstance(
            .init(id: .admin, name: "admin", auth: .password(Self.adminPassword)))
        if shop {
            try await engine.createInstance(
                .init(id: InstanceID("shop")!, name: "Shop", auth: .password(Self.shopPassword)))
        }
        remember(Self.adminPassword)
        remember(Self.shopPassword)
    }

    func remember(_ secret: String) {
        guard secret.count >= 4 else { return }
        secrets.withLock { $0.append(secret) }
    }

    /// Runs `body` against the router in process (or, with `.live`, on a loopback port:
    /// `client.port` is where raw bytes can be sent); with `internalListener`, against the internal
    /// listener's router.
    func test(
        _ setup: TestingSetup = .router, internalListener: Bool = false,
        _ body: @escaping @Sendable (any TestClientProtocol) async throws -> Void
    ) async throws {
        let router = internalListener ? api.buildInternalRouter() : api.buildRouter()
        let app = Application(router: router, logger: logger)
        try await app.test(setup, body)
        let text = capture.text
        #expect(!text.isEmpty)
        for secret in secrets.withLock({ $0 }) {
            #expect(!text.contains(secret), "a secret reached the log")
            let bare = secret.replacingOccurrences(of: "secret-token:", with: "")
            #expect(!text.contains(bare), "a secret reached the log")
        }
    }
}

// MARK: - Request helpers

func basic(_ user: String, _ password: String) -> String {
    "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
}

func bearer(_ secret: String) -> String {
    secret.hasPrefix("secret-token:") ? "Bearer \(secret)" : "Bearer secret-token:\(secret)"
}

extension TestClientProtocol {
    /// Sends a request with an optional `Authorization` and JSON body.
    func call(
        _ method: HTTPRequest.Method, _ uri: String, auth: String? = nil, json: String? = nil,
        headers extra: HTTPFields = [:]
    ) async throws -> TestResponse {
        var headers = extra
        if let auth { headers[.authorization] = auth }
        if json != nil { headers[.contentType] = "application/json" }
        return try await execute(
            uri: uri, method: method, headers: headers,
            body: json.map { ByteBuffer(string: $0) })
    }

    /// Mints a token and returns its `access_token`, expecting 200.
    func mint(
        _ instancePath: String = "", auth: String, body: String = #"{"scope":"all"}"#,
        harness: APIHarness
    ) async throws -> String {
        let response = try await call(
            .post, "\(instancePath)/private/token", auth: auth, json: body)
        #expect(response.status == .ok)
        let token = try #require(response.json["access_token"]?.stringValue)
        harness.remember(token)
        return token
    }
}

extension TestResponse {
    var json: JSONValue {
        (try? JSONValue.parse(Array(body.readableBytesView))) ?? .null
    }

    /// The Taler error code of the body.
    var code: Int? { json["code"]?.integer.map(Int.init) }
}

extension JSONValue {
    var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }
    var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }
    var arrayValue: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }
}

/// A body as UTF-8 text.
func text(_ buffer: ByteBuffer) -> String {
    String(decoding: buffer.readableBytesView, as: UTF8.self)
}
