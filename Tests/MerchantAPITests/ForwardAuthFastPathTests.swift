import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import NIOEmbedded
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import Testing
import TokenDomain
import TokenEngine

@testable import MerchantAPI

/// The proxy's checks answered on the event loop (``ForwardAuthFastPath``): the same answers
/// as the route, and everything it cannot answer at once goes on to Hummingbird untouched.
/// Driven on an `EmbeddedChannel` with the internal listener's pipeline (the HTTP codec and
/// the server's additional handlers), as Hummingbird builds it for a connection.
@Suite("Forward-auth checks on the event loop")
struct ForwardAuthFastPathTests {
    /// A connection to the internal listener, from 127.0.0.1.
    final class Connection {
        let channel = EmbeddedChannel()

        init(_ api: MerchantAPI) throws {
            let pipeline = channel.pipeline.syncOperations
            try pipeline.configureHTTPServerPipeline(
                withPipeliningAssistance: false, withErrorHandling: false,
                withOutboundHeaderValidation: false)
            try pipeline.addHandler(HTTP1ToHTTPServerCodec(secure: false))
            let configuration = ConnectionDeadlines.channelConfiguration(
                .init(), checks: api)
            try pipeline.addHandlers(configuration.additionalChannelHandlers())
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9)).wait()
        }

        /// Sends `headers` as a request to `path`.
        func send(_ path: String, _ headers: [(String, String)], method: String = "GET") throws {
            var text = "\(method) \(path) HTTP/1.1\r\nHost: tallystick\r\n"
            for (name, value) in headers { text += "\(name): \(value)\r\n" }
            try channel.writeInbound(ByteBuffer(string: text + "\r\n"))
        }

        /// The bytes written back so far, as one answer (`nil`: none).
        func answer() throws -> Answer? {
            var bytes = ByteBuffer()
            while var part = try channel.readOutbound(as: ByteBuffer.self) {
                bytes.writeBuffer(&part)
            }
            return bytes.readableBytes == 0 ? nil : Answer(String(buffer: bytes))
        }

        /// The request parts passed on to Hummingbird so far.
        func passedOn() throws -> [HTTPRequestPart] {
            var out = [HTTPRequestPart]()
            while let part = try channel.readInbound(as: HTTPRequestPart.self) { out.append(part) }
            return out
        }

        /// Answers a request passed on, as Hummingbird would.
        func respond(_ status: HTTPResponse.Status) throws {
            try channel.writeOutbound(
                HTTPResponsePart.head(
                    HTTPResponse(status: status, headerFields: [.contentLength: "0"])))
            try channel.writeOutbound(HTTPResponsePart.end(nil))
        }
    }

    /// An answer read off the wire.
    struct Answer {
        var status: Int
        var headers: [String: String] = [:]
        var body: String

        init(_ text: String) {
            let (head, body) = text.split(separator: "\r\n\r\n", maxSplits: 1)
                .map(String.init).splitFirst()
            var lines = head.split(separator: "\r\n").makeIterator()
            status = Int(lines.next()?.split(separator: " ")[1] ?? "") ?? 0
            while let line = lines.next(), let colon = line.firstIndex(of: ":") {
                headers[line[..<colon].lowercased()] = String(
                    line[line.index(after: colon)...].drop { $0 == " " })
            }
            self.body = body
        }
    }

    /// The headers that carry the decision (every answer's other headers are the transport's).
    static let decisionHeaders = [
        "content-type", "cache-control", "www-authenticate", "retry-after", "x-tallystick-error",
        "x-taler-backend-authorization", "x-tallystick-instance", "x-tallystick-token-serial",
        "x-tallystick-scope",
    ]

    static func headers(_ method: String, _ uri: String, _ auth: String?) -> [(String, String)] {
        var headers = [("X-Original-Method", method), ("X-Original-URI", uri)]
        if let auth { headers.append(("Authorization", auth)) }
        return headers
    }

    /// Revokes `token` of `shop` as its client would.
    static func revoke(_ h: APIHarness, _ token: String) async throws {
        try await h.test { client in
            let revoked = try await client.call(
                .delete, "/instances/shop/private/token", auth: bearer(token))
            #expect(revoked.status == .noContent)
        }
    }

    @Test func itAnswersAsTheRouteDoes() async throws {
        let h = try await ForwardAuthRouteTests.harness()
        let pos = try await ForwardAuthRouteTests.token(h, scope: "order-pos")
        let readonly = try await ForwardAuthRouteTests.token(h, scope: "readonly")
        let admin = try await ForwardAuthRouteTests.token(h, scope: "all", instance: "admin")
        let revoked = try await ForwardAuthRouteTests.token(h, scope: "all")
        try await h.engine.createInstance(
            .init(id: InstanceID("bare")!, name: "Bare", auth: .password("bare pass phrase")))
        let bareOwner = try await h.engine.authenticate(
            .basic(user: "bare", password: "bare pass phrase"), instance: InstanceID("bare")!,
            allowBasic: true)
        let bare = try await h.engine.issueToken(
            instance: InstanceID("bare")!, by: bareOwner, scope: TokenScope(wire: "all")!
        ).value.accessToken
        h.remember(bare)
        try await Self.revoke(h, revoked)
        let cases: [(String, String, String?)] = [
            ("GET", "/instances/shop/private/orders?limit=5", bearer(pos)),
            ("POST", "/instances/shop/private/products/p1/lock", bearer(pos)),
            ("POST", "/instances/shop/private/orders/o1/refund", bearer(pos)),
            ("GET", "/instances/shop/private/orders", bearer(readonly)),
            ("DELETE", "/instances/shop/private/orders/o1", bearer(readonly)),
            ("GET", "/instances/shop/private/orders", bearer(admin)),
            ("GET", "/private/orders", bearer(admin)),
            ("GET", "/instances/shop/private/orders", bearer(revoked)),
            ("GET", "/instances/shop/private/orders", nil),
            ("GET", "/instances/shop/private/orders", "Bearer nonsense"),
            ("GET", "/instances/nowhere/private/orders", bearer(pos)),
            ("GET", "/instances/bare/private/orders", bearer(bare)),
            ("GET", "/instances/shop/orders/o1", nil),
            ("GET", "/config", nil),
            ("GET", "/instances/shop/private/../private/orders", bearer(pos)),
            ("GET", "/instances/shop/private%2Forders", bearer(pos)),
            ("BREW", "/instances/shop/private/orders", bearer(pos)),
        ]
        let connection = try Connection(h.api)
        var fast: [Answer] = []
        for (method, uri, auth) in cases {
            try connection.send("/authz/auth-request", Self.headers(method, uri, auth))
            fast.append(try #require(try connection.answer(), "\(method) \(uri)"))
            #expect(try connection.passedOn().isEmpty)
        }
        // Missing and repeated headers.
        try connection.send("/authz/auth-request", [("X-Original-URI", "/private/orders")])
        fast.append(try #require(try connection.answer()))
        try connection.send(
            "/authz/forward-auth",
            [
                ("X-Forwarded-Method", "GET"), ("X-Forwarded-Method", "POST"),
                ("X-Forwarded-Uri", "/private/orders"),
            ])
        fast.append(try #require(try connection.answer()))
        #expect(
            fast.map(\.status) == [
                200, 200, 403, 200, 403, 403, 200, 401, 401, 401, 401, 403, 200, 200, 400, 400,
                403, 400, 400,
            ])

        let fastAnswers = fast
        try await h.test(internalListener: true) { client in
            var routed: [TestResponse] = []
            for (method, uri, auth) in cases {
                routed.append(try await ForwardAuthRouteTests.ask(client, method, uri, auth: auth))
            }
            routed.append(
                try await client.execute(
                    uri: "/authz/auth-request", method: .get,
                    headers: [MerchantAPI.originalURI: "/private/orders"], body: nil))
            var repeated: HTTPFields = [MerchantAPI.forwardedURI: "/private/orders"]
            repeated.append(HTTPField(name: MerchantAPI.forwardedMethod, value: "GET"))
            repeated.append(HTTPField(name: MerchantAPI.forwardedMethod, value: "POST"))
            routed.append(
                try await client.execute(
                    uri: "/authz/forward-auth", method: .get, headers: repeated, body: nil))
            for (fast, routed) in zip(fastAnswers, routed) {
                #expect(fast.status == Int(routed.status.code))
                #expect(fast.body == String(buffer: routed.body))
                for name in Self.decisionHeaders {
                    #expect(
                        fast.headers[name] == routed.headers[HTTPField.Name(name)!],
                        "\(name) of a \(fast.status)")
                }
                #expect(fast.headers["content-length"] == String(routed.body.readableBytes))
                #expect(fast.headers["server"] == "tallystick")
                #expect(fast.headers["date"]?.hasSuffix(" GMT") == true)
            }
        }
        // Each check counts in the metrics under its route, as a routed one does.
        let metrics = String(decoding: h.api.metrics.render(), as: UTF8.self)
        #expect(metrics.contains("/authz/auth-request"))
        #expect(metrics.contains("/authz/forward-auth"))
    }

    @Test func whatItCannotAnswerAtOnceGoesOnUntouched() async throws {
        let h = try await ForwardAuthRouteTests.harness()
        let pos = try await ForwardAuthRouteTests.token(h, scope: "order-pos")
        let connection = try Connection(h.api)
        let orders = "/instances/shop/private/orders"
        let passed: [(String, String, [(String, String)])] = [
            // A password waits for the throttle and the hashing queue.
            (
                "GET", "/authz/auth-request",
                Self.headers("GET", orders, basic("shop", APIHarness.shopPassword))
            ),
            ("GET", "/authz/auth-request", Self.headers("GET", orders, "Bearer secret-token:pw")),
            // Other routes, methods and requests with a body or closing the connection.
            ("GET", "/metrics", []),
            ("HEAD", "/authz/auth-request", Self.headers("GET", orders, bearer(pos))),
            (
                "GET", "/authz/ext-authz/instances/shop/private/orders",
                [("Authorization", bearer(pos))]
            ),
            (
                "GET", "/authz/auth-request",
                Self.headers("GET", orders, bearer(pos)) + [("Content-Length", "0")]
            ),
            // Last: the parser takes nothing after it.
            (
                "GET", "/authz/auth-request",
                Self.headers("GET", orders, bearer(pos)) + [("Connection", "close")]
            ),
        ]
        for (method, path, headers) in passed {
            try connection.send(path, headers, method: method)
            #expect(try connection.answer() == nil, "\(method) \(path)")
            let parts = try connection.passedOn()
            guard case .head(let head)? = parts.first, case .end? = parts.last else {
                Issue.record("\(method) \(path) was not passed on whole: \(parts)")
                continue
            }
            #expect(head.method.rawValue == method)
            #expect(head.path == path)
            #expect(
                head.headerFields[.authorization] == headers.first { $0.0 == "Authorization" }?.1)
            try connection.respond(.ok)
            _ = try connection.answer()
        }
        // The same check without what sent it on is answered at once.
        let next = try Connection(h.api)
        try next.send("/authz/auth-request", Self.headers("GET", orders, bearer(pos)))
        #expect(try next.answer()?.status == 200)
        #expect(try next.passedOn().isEmpty)
    }

    @Test func answersLeaveInTheOrderTheirRequestsCame() async throws {
        let h = try await ForwardAuthRouteTests.harness()
        let pos = try await ForwardAuthRouteTests.token(h, scope: "order-pos")
        let connection = try Connection(h.api)
        let check = Self.headers("GET", "/instances/shop/private/orders", bearer(pos))
        // /metrics is with Hummingbird: the check behind it must not overtake its answer.
        try connection.send("/metrics", [])
        try connection.send("/authz/auth-request", check)
        #expect(try connection.answer() == nil)
        let parts = try connection.passedOn()
        #expect(parts.count == 4)
        try connection.respond(.ok)
        try connection.respond(.ok)
        _ = try connection.answer()
        try connection.send("/authz/auth-request", check)
        #expect(try connection.answer()?.status == 200)
        #expect(try connection.passedOn().isEmpty)
    }

    @Test func aClientThatReadsNoAnswersIsLeftToHummingbird() async throws {
        let h = try await ForwardAuthRouteTests.harness()
        let pos = try await ForwardAuthRouteTests.token(h, scope: "order-pos")
        let connection = try Connection(h.api)
        let check = Self.headers("GET", "/instances/shop/private/orders", bearer(pos))
        connection.channel.isWritable = false
        try connection.send("/authz/auth-request", check)
        #expect(try connection.answer() == nil)
        #expect(try connection.passedOn().count == 2)
        try connection.respond(.ok)
        _ = try connection.answer()
        connection.channel.isWritable = true
        try connection.send("/authz/auth-request", check)
        #expect(try connection.answer()?.status == 200)
    }

    @Test func aRevocationIsSeenByTheNextCheck() async throws {
        let h = try await ForwardAuthRouteTests.harness()
        let pos = try await ForwardAuthRouteTests.token(h, scope: "order-pos")
        let connection = try Connection(h.api)
        let check = Self.headers("GET", "/instances/shop/private/orders", bearer(pos))
        try connection.send("/authz/auth-request", check)
        #expect(try connection.answer()?.status == 200)
        try await Self.revoke(h, pos)
        try connection.send("/authz/auth-request", check)
        let refused = try #require(try connection.answer())
        #expect(refused.status == 401)
        #expect(refused.headers["x-taler-backend-authorization"] == nil)
        // Nothing secret reached the log.
        let text = h.capture.text
        #expect(text.contains("/authz/auth-request"))
        for secret in [pos, ForwardAuthRouteTests.backend] {
            #expect(!text.contains(secret))
            #expect(!text.contains(secret.replacingOccurrences(of: "secret-token:", with: "")))
        }
    }
}

extension Array where Element == String {
    /// The first element and the second (empty when missing).
    fileprivate func splitFirst() -> (String, String) {
        (first ?? "", count > 1 ? self[1] : "")
    }
}
