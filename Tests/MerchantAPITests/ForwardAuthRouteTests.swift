import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import TextCoding
import TokenDomain
import TokenEngine

@testable import MerchantAPI

/// Spec §9: the forward-auth endpoints on the internal listener, in process. (The shipped
/// nginx site in front of the real server and a stand-in merchant is the end-to-end test.)
@Suite("Forward-auth endpoints")
struct ForwardAuthRouteTests {
    static let backend = "MERCHANT-SHOP-BACKEND-0123456789"
    static let adminBackend = "MERCHANT-ADMIN-BACKEND-0123456789"

    /// A harness whose `shop` and `admin` have backend credentials.
    static func harness() async throws -> APIHarness {
        let h = try await APIHarness()
        try await h.engine.setBackendCredential(instance: InstanceID("shop")!, secret: backend)
        try await h.engine.setBackendCredential(instance: .admin, secret: adminBackend)
        h.remember(backend)
        h.remember(adminBackend)
        return h
    }

    /// `GET /authz/auth-request` as nginx asks it.
    static func ask(
        _ client: any TestClientProtocol, _ method: String, _ uri: String, auth: String? = nil
    ) async throws -> TestResponse {
        var headers: HTTPFields = [
            MerchantAPI.originalMethod: method, MerchantAPI.originalURI: uri,
        ]
        if let auth { headers[.authorization] = auth }
        return try await client.execute(
            uri: "/authz/auth-request", method: .get, headers: headers, body: nil)
    }

    /// Mints a token of `scope` for `instance` through the engine.
    static func token(_ h: APIHarness, scope: String, instance: String = "shop") async throws
        -> String
    {
        let password = instance == "shop" ? APIHarness.shopPassword : APIHarness.adminPassword
        let id = InstanceID(instance)!
        let owner = try await h.engine.authenticate(
            .basic(user: instance, password: password), instance: id, allowBasic: true)
        let issued = try await h.engine.issueToken(
            instance: id, by: owner, scope: TokenScope(wire: scope)!
        ).value
        h.remember(issued.accessToken)
        return issued.accessToken
    }

    @Test func anAllowedRequestGetsTheBackendCredentialOfItsInstance() async throws {
        let h = try await Self.harness()
        let pos = try await Self.token(h, scope: "order-pos")
        try await h.test(internalListener: true) { client in
            let allowed = try await Self.ask(
                client, "GET", "/instances/shop/private/orders?limit=5", auth: bearer(pos))
            #expect(allowed.status == .ok)
            #expect(
                allowed.headers[MerchantAPI.backendAuthorization]
                    == "Bearer secret-token:\(Self.backend)")
            #expect(allowed.headers[MerchantAPI.tallystickInstance] == "shop")
            #expect(allowed.headers[MerchantAPI.tallystickScope] == "order-pos")
            #expect(allowed.headers[MerchantAPI.tallystickSerial] == "1")
            #expect(allowed.headers[.cacheControl] == "no-store")
            // order-pos may lock inventory and read products (spec §9 decision), not refund.
            let lock = try await Self.ask(
                client, "POST", "/instances/shop/private/products/p1/lock", auth: bearer(pos))
            #expect(lock.status == .ok)
            let refund = try await Self.ask(
                client, "POST", "/instances/shop/private/orders/o1/refund", auth: bearer(pos))
            #expect(refund.status == .forbidden)
            #expect(refund.code == 16)
            #expect(refund.headers[MerchantAPI.backendAuthorization] == nil)
            // The instance password (legacy bearer) has every permission.
            let legacy = try await Self.ask(
                client, "POST", "/instances/shop/private/orders/o1/refund",
                auth: bearer(APIHarness.shopPassword))
            #expect(legacy.status == .ok)
        }
    }

    @Test func refusalsAre401Or403WithATalerBodyAndNoCredential() async throws {
        let h = try await Self.harness()
        let shop = try await Self.token(h, scope: "readonly")
        let admin = try await Self.token(h, scope: "all", instance: "admin")
        try await h.test(internalListener: true) { client in
            let none = try await Self.ask(client, "GET", "/instances/shop/private/orders")
            #expect(none.status == .unauthorized)
            #expect(none.code == 2015)
            #expect(none.headers[.wwwAuthenticate] == "Bearer")
            let unknown = try await Self.ask(
                client, "GET", "/instances/shop/private/orders",
                auth: bearer("secret-token:" + String(repeating: "A", count: 52)))
            #expect(unknown.status == .unauthorized)
            // A token of another instance: 403, code 2015.
            let other = try await Self.ask(
                client, "GET", "/instances/shop/private/orders", auth: bearer(admin))
            #expect(other.status == .forbidden)
            #expect(other.code == 2015)
            // /management needs a token of admin.
            let management = try await Self.ask(
                client, "GET", "/management/instances/shop/kyc", auth: bearer(shop))
            #expect(management.status == .forbidden)
            let adminKYC = try await Self.ask(
                client, "GET", "/management/instances/shop/kyc", auth: bearer(admin))
            #expect(adminKYC.status == .ok)
            #expect(
                adminKYC.headers[MerchantAPI.backendAuthorization]
                    == "Bearer secret-token:\(Self.adminBackend)")
            // readonly reads everything, writes nothing; a path in no row needs scope all.
            #expect(
                try await Self.ask(client, "GET", "/private/kyc", auth: bearer(admin)).status
                    == .ok)
            let write = try await Self.ask(
                client, "POST", "/instances/shop/private/orders", auth: bearer(shop))
            #expect(write.status == .forbidden)
            let newer = try await Self.ask(
                client, "GET", "/instances/shop/private/some-newer-endpoint", auth: bearer(shop))
            #expect(newer.status == .forbidden)
            for refused in [none, unknown, other, management, write, newer] {
                #expect(refused.headers[MerchantAPI.backendAuthorization] == nil)
                #expect(refused.headers[.contentType] == "application/json")
                // The body again as a header, for a proxy that drops the body (nginx).
                #expect(
                    refused.headers[TalerError.errorHeader]
                        == String(decoding: refused.body.readableBytesView, as: UTF8.self))
                #expect(refused.headers[.cacheControl] == "no-store")
            }
        }
    }

    /// The header copy of a refusal's body is the same JSON value in ASCII only.
    @Test func theBodyInAHeaderIsASCIIJSON() throws {
        let body = Array(#"{"code":26,"hint":"caf\u00e9 é 😀 \"x\""}"#.utf8)
        let header = JSONWriter.asciiOnly(body)
        #expect(header == #"{"code":26,"hint":"caf\u00e9 \u00e9 \ud83d\ude00 \"x\""}"#)
        #expect(header.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F })
        let decoded = try JSONSerialization.jsonObject(with: Data(header.utf8)) as? [String: Any]
        let original = try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]
        #expect(decoded?["hint"] as? String == original?["hint"] as? String)
    }

    @Test func aRevocationIsSeenByTheVeryNextCheck() async throws {
        let h = try await Self.harness()
        let token = try await Self.token(h, scope: "order-simple")
        try await h.test(internalListener: true) { client in
            let before = try await Self.ask(
                client, "GET", "/instances/shop/private/orders", auth: bearer(token))
            #expect(before.status == .ok)
        }
        try await h.test { client in
            let revoked = try await client.call(
                .delete, "/instances/shop/private/token", auth: bearer(token))
            #expect(revoked.status == .noContent)
        }
        try await h.test(internalListener: true) { client in
            let after = try await Self.ask(
                client, "GET", "/instances/shop/private/orders", auth: bearer(token))
            #expect(after.status == .unauthorized)
        }
    }

    @Test func publicPathsPassWithoutACredential() async throws {
        let h = try await Self.harness()
        try await h.test(internalListener: true) { client in
            for (method, uri) in [
                ("GET", "/orders/o1"), ("GET", "/instances/shop/orders/o1"),
                ("GET", "/templates/t1"), ("GET", "/terms"), ("POST", "/instances"),
                ("GET", "/webui/index.html"),
            ] {
                let answer = try await Self.ask(client, method, uri, auth: "Garbage !!")
                #expect(answer.status == .ok, "\(method) \(uri)")
                #expect(answer.headers[MerchantAPI.backendAuthorization] == nil)
            }
        }
    }

    @Test func anAllowedRequestForAnInstanceWithoutABackendCredentialIsRefused() async throws {
        let h = try await APIHarness()
        let token = try await Self.token(h, scope: "all")
        try await h.test(internalListener: true) { client in
            let answer = try await Self.ask(
                client, "GET", "/instances/shop/private/orders", auth: bearer(token))
            #expect(answer.status == .forbidden)
            #expect(answer.code == 2030)
            #expect(text(answer.body).contains("tallystick backend-credential set shop"))
        }
    }

    @Test(
        "missing, repeated or ambiguous forward headers are 400, code 26",
        arguments: [
            [("X-Original-URI", "/private/orders")],
            [("X-Original-Method", "GET")],
            [("X-Original-Method", "GET"), ("X-Original-URI", "")],
            [
                ("X-Original-Method", "GET"), ("X-Original-URI", "/private/orders"),
                ("X-Original-URI", "/private/products"),
            ],
            [("X-Original-Method", "GET"), ("X-Original-URI", "/private/../management/instances")],
            [("X-Original-Method", "GET"), ("X-Original-URI", "/instances/shop%2Fprivate")],
            [("X-Original-Method", "GET"), ("X-Original-URI", "/private//orders")],
            [("X-Original-Method", "G ET"), ("X-Original-URI", "/private/orders")],
            [("X-Original-Method", "GET"), ("X-Original-URI", "http://x/private/orders")],
        ])
    func badForwardHeaders(_ fields: [(String, String)]) async throws {
        let h = try await Self.harness()
        try await h.test(internalListener: true) { client in
            var headers = HTTPFields()
            for (name, value) in fields {
                headers.append(HTTPField(name: HTTPField.Name(name)!, value: value))
            }
            let answer = try await client.execute(
                uri: "/authz/auth-request", method: .get, headers: headers, body: nil)
            #expect(answer.status == .badRequest)
            #expect(answer.code == 26)
            #expect(answer.headers[TalerError.errorHeader]?.contains(#""code":26"#) == true)
        }
    }

    @Test func traefikCaddyAndEnvoyConventions() async throws {
        let h = try await Self.harness()
        let token = try await Self.token(h, scope: "order-mgmt")
        try await h.test(internalListener: true) { client in
            let traefik = try await client.execute(
                uri: "/authz/forward-auth", method: .get,
                headers: [
                    MerchantAPI.forwardedMethod: "POST",
                    MerchantAPI.forwardedURI: "/instances/shop/private/orders/o1/refund",
                    .authorization: bearer(token),
                ], body: nil)
            #expect(traefik.status == .ok)
            #expect(traefik.headers[MerchantAPI.backendAuthorization] != nil)
            let envoy = try await client.execute(
                uri: "/authz/ext-authz/instances/shop/private/orders/o1/refund", method: .post,
                headers: [.authorization: bearer(token)], body: nil)
            #expect(envoy.status == .ok)
            let envoyRefused = try await client.execute(
                uri: "/authz/ext-authz/instances/shop/private/products", method: .post,
                headers: [.authorization: bearer(token)], body: nil)
            #expect(envoyRefused.status == .forbidden)
        }
    }

    @Test func thePublicListenerDoesNotServeThem() async throws {
        let h = try await Self.harness()
        try await h.test { client in
            for path in ["/authz/auth-request", "/authz/forward-auth", "/authz/ext-authz/private"] {
                let answer = try await client.call(.get, path)
                #expect(answer.status == .notFound, "\(path)")
                #expect(answer.code == 21)
            }
        }
    }
}
