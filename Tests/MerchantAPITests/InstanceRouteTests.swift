import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import TokenDomain

@testable import MerchantAPI

@Suite("Instance routes")
struct InstanceRouteTests {
    static let admin = basic("admin", APIHarness.adminPassword)

    @Test func creatingAnInstanceIsIdempotentAndConflictsOnOtherData() async throws {
        let h = try await APIHarness()
        try await h.test { client in
            let admin = bearer(APIHarness.adminPassword)
            let body = #"""
                {"id":"shop2","name":"Shop Two","auth":{"method":"token","password":"two pw"},
                 "email":"a@example.com","address":{"town":"Bern"},"use_stefan":true}
                """#
            h.remember("two pw")
            let created = try await client.call(
                .post, "/management/instances", auth: admin, json: body)
            #expect(created.status == .noContent)
            let again = try await client.call(
                .post, "/management/instances", auth: admin, json: body)
            #expect(again.status == .noContent)
            let other = try await client.call(
                .post, "/management/instances", auth: admin,
                json:
                    #"{"id":"shop2","name":"Other","auth":{"method":"token","password":"two pw"}}"#)
            #expect(other.status == .conflict)
            #expect(other.code == 2600)
            let details = try await client.call(
                .get, "/instances/shop2/private", auth: bearer("two pw"))
            #expect(details.status == .ok)
            #expect(details.json["name"]?.stringValue == "Shop Two")
            #expect(details.json["auth"]?["method"]?.stringValue == "token")
            #expect(details.json["email"]?.stringValue == "a@example.com")
            // The operator vouches for what it sets through /management (spec §10.1).
            #expect(details.json["email_validated"]?.boolValue == true)
            #expect(details.json["phone_validated"]?.boolValue == false)
            #expect(details.json["address"]?["town"]?.stringValue == "Bern")
            #expect(details.json["use_stefan"]?.boolValue == true)
            #expect(!text(details.body).contains("two pw"))
        }
    }

    @Test func malformedInstanceCreations() async throws {
        let h = try await APIHarness()
        try await h.test { client in
            let admin = bearer(APIHarness.adminPassword)
            let badAuth = try await client.call(
                .post, "/management/instances", auth: admin,
                json: #"{"id":"s3","name":"x","auth":{"method":"magic"}}"#)
            #expect(badAuth.status == .badRequest)
            #expect(badAuth.code == 2601)
            let badID = try await client.call(
                .post, "/management/instances", auth: admin,
                json: #"{"id":"-bad","name":"x","auth":{"method":"external"}}"#)
            #expect(badID.code == 26)
            #expect(badID.json["parameter"]?.stringValue == "id")
            let noName = try await client.call(
                .post, "/management/instances", auth: admin,
                json: #"{"id":"s4","auth":{"method":"external"}}"#)
            #expect(noName.code == 25)
            let shopToken = try await client.mint(
                "/instances/shop", auth: basic("shop", APIHarness.shopPassword), harness: h)
            let notAdmin = try await client.call(
                .post, "/management/instances", auth: bearer(shopToken),
                json: #"{"id":"s5","name":"x","auth":{"method":"external"}}"#)
            #expect(notAdmin.status == .unauthorized)
            let readonly = try await client.mint(
                auth: InstanceRouteTests.admin, body: #"{"scope":"readonly"}"#, harness: h)
            let weak = try await client.call(
                .post, "/management/instances", auth: bearer(readonly),
                json: #"{"id":"s5","name":"x","auth":{"method":"external"}}"#)
            #expect(weak.status == .forbidden)
            #expect(weak.code == 16)
        }
    }

    /// Spec §10.9: an id longer than the log can store is refused as malformed (it used to
    /// reach the log and come back as 500, code 54); in a path it names no instance.
    @Test func instanceIDsHaveAMaximumLength() async throws {
        let h = try await APIHarness()
        let longest = String(repeating: "L", count: InstanceID.maximumLength)
        let tooLong = longest + "x"
        try await h.test { client in
            let admin = bearer(APIHarness.adminPassword)
            h.remember("long pw")
            for (id, status, code) in [
                (tooLong, HTTPResponse.Status.badRequest, 26), (longest, .noContent, nil),
                (String(repeating: "z", count: 5_000), .badRequest, 26),
            ] {
                let created = try await client.call(
                    .post, "/management/instances", auth: admin,
                    json:
                        #"{"id":"\#(id)","name":"x","auth":{"method":"token","password":"long pw"}}"#
                )
                #expect(created.status == status, "\(id.utf8.count) bytes")
                #expect(created.code == code)
                if code != nil { #expect(created.json["parameter"]?.stringValue == "id") }
            }
            let found = try await client.call(
                .get, "/instances/\(longest)/private", auth: bearer("long pw"))
            #expect(found.status == .ok)
            for uri in [
                "/instances/\(tooLong)/private", "/instances/\(tooLong)/private/tokens",
                "/management/instances/\(tooLong)",
            ] {
                let unknown = try await client.call(.get, uri, auth: admin)
                #expect(unknown.status == .notFound)
                #expect(unknown.code == 2000)
            }
            let minted = try await client.call(
                .post, "/instances/\(tooLong)/private/token", auth: basic(tooLong, "long pw"),
                json: #"{"scope":"readonly"}"#)
            #expect(minted.status == .notFound)
            #expect(minted.code == 2000)
        }
    }

    @Test func changingCredentialsKeepsTokensAndAcceptsTheDeprecatedForm() async throws {
        let h = try await APIHarness()
        h.remember("new shop pw")
        h.remember("third pw")
        try await h.test { client in
            let token = try await client.mint(
                "/instances/shop", auth: basic("shop", APIHarness.shopPassword), harness: h)
            let changed = try await client.call(
                .post, "/instances/shop/private/auth", auth: bearer(APIHarness.shopPassword),
                json: #"{"method":"token","password":"new shop pw"}"#)
            #expect(changed.status == .noContent)
            let old = try await client.call(
                .get, "/instances/shop/private/tokens", auth: bearer(APIHarness.shopPassword))
            #expect(old.status == .unauthorized)
            let fresh = try await client.call(
                .get, "/instances/shop/private/tokens", auth: bearer("new shop pw"))
            #expect(fresh.status == .ok)
            let kept = try await client.call(
                .get, "/instances/shop/private/tokens", auth: bearer(token))
            #expect(kept.status == .ok)
            let deprecated = try await client.call(
                .post, "/management/instances/shop/auth", auth: bearer(APIHarness.adminPassword),
                json: #"{"method":"token","token":"secret-token:third pw"}"#)
            #expect(deprecated.status == .noContent)
            let third = try await client.call(
                .get, "/instances/shop/private/tokens", auth: bearer("third pw"))
            #expect(third.status == .ok)
            let malformed = try await client.call(
                .post, "/instances/shop/private/auth", auth: bearer("third pw"),
                json: #"{"method":"token"}"#)
            #expect(malformed.status == .badRequest)
            #expect(malformed.code == 2602)
        }
    }

    @Test func patchingDetailsAndListingInstances() async throws {
        let h = try await APIHarness()
        try await h.test { client in
            let owner = bearer(APIHarness.shopPassword)
            let patched = try await client.call(
                .patch, "/instances/shop/private", auth: owner,
                json:
                    #"{"name":"Renamed","email":null,"phone_number":"+41 79 123 45 67","website":"https://x"}"#
            )
            #expect(patched.status == .noContent)
            let details = try await client.call(.get, "/instances/shop/private", auth: owner)
            #expect(details.json["name"]?.stringValue == "Renamed")
            #expect(details.json["phone_number"]?.stringValue == "+41791234567")
            #expect(details.json["phone_validated"]?.boolValue == false)
            #expect(details.json["website"]?.stringValue == "https://x")
            let managed = try await client.call(
                .get, "/management/instances/shop", auth: bearer(APIHarness.adminPassword))
            #expect(managed.json["name"]?.stringValue == "Renamed")
            let list = try await client.call(
                .get, "/management/instances", auth: bearer(APIHarness.adminPassword))
            let ids = list.json["instances"]?.arrayValue?.compactMap { $0["id"]?.stringValue }
            #expect(ids == ["admin", "shop"])
            let unknown = try await client.call(
                .get, "/management/instances/nobody", auth: bearer(APIHarness.adminPassword))
            #expect(unknown.status == .notFound)
            #expect(unknown.code == 2000)
        }
    }

    @Test func deletingAnInstanceStopsItsTokensAndPurgeRemovesIt() async throws {
        let h = try await APIHarness()
        try await h.test { client in
            let token = try await client.mint(
                "/instances/shop", auth: basic("shop", APIHarness.shopPassword), harness: h)
            let deleted = try await client.call(
                .delete, "/management/instances/shop", auth: bearer(APIHarness.adminPassword))
            #expect(deleted.status == .noContent)
            let dead = try await client.call(
                .get, "/instances/shop/private/tokens", auth: bearer(token))
            #expect(dead.status == .notFound)
            #expect(dead.code == 2016)
            let recreate = try await client.call(
                .post, "/management/instances", auth: bearer(APIHarness.adminPassword),
                json: #"{"id":"shop","name":"Shop","auth":{"method":"external"}}"#)
            #expect(recreate.status == .conflict)
            #expect(recreate.code == 2603)
            let purged = try await client.call(
                .delete, "/management/instances/shop?purge=yes",
                auth: bearer(APIHarness.adminPassword))
            #expect(purged.status == .noContent)
            let gone = try await client.call(
                .get, "/instances/shop/private/tokens", auth: bearer(token))
            #expect(gone.code == 2000)
        }
    }

    @Test func anInstanceCanDeleteItself() async throws {
        let h = try await APIHarness()
        try await h.test { client in
            let deleted = try await client.call(
                .delete, "/instances/shop/private", auth: bearer(APIHarness.shopPassword))
            #expect(deleted.status == .noContent)
            let after = try await client.call(
                .get, "/instances/shop/private", auth: bearer(APIHarness.shopPassword))
            #expect(after.code == 2016)
        }
    }

    /// Spec §10.2: `external` (no checks at all) only where the operator allows it.
    @Test func externalAuthIsRefusedUnlessTheOperatorAllowsIt() async throws {
        let h = try await APIHarness()
        try await h.test { client in
            let created = try await client.call(
                .post, "/management/instances", auth: bearer(APIHarness.adminPassword),
                json: #"{"id":"open","name":"Open","auth":{"method":"external"}}"#)
            #expect(created.status == .badRequest)
            #expect(created.code == 2601)
            let switched = try await client.call(
                .post, "/instances/shop/private/auth", auth: bearer(APIHarness.shopPassword),
                json: #"{"method":"external"}"#)
            #expect(switched.status == .badRequest)
            #expect(switched.code == 2602)
            let managed = try await client.call(
                .post, "/management/instances/shop/auth", auth: bearer(APIHarness.adminPassword),
                json: #"{"method":"external"}"#)
            #expect(managed.code == 2602)
            let still = try await client.call(.get, "/instances/shop/private")
            #expect(still.status == .unauthorized)
        }
    }

    @Test func anExternalInstanceNeedsNoCredentials() async throws {
        let h = try await APIHarness { $0.allowExternalAuth = true }
        try await h.test { client in
            let created = try await client.call(
                .post, "/management/instances", auth: bearer(APIHarness.adminPassword),
                json: #"{"id":"open","name":"Open","auth":{"method":"external"}}"#)
            #expect(created.status == .noContent)
            let list = try await client.call(.get, "/instances/open/private")
            #expect(list.status == .ok)
            #expect(list.json["auth"]?["method"]?.stringValue == "external")
        }
    }
}

/// Each scope against each endpoint permission (spec §4).
@Suite("Scopes against endpoint permissions")
struct ScopePermissionTests {
    enum Endpoint: String, CaseIterable, Sendable {
        case listTokens, deleteToken, readInstance, writeInstance, changeAuth, refresh

        var permission: Permission {
            switch self {
            case .listTokens: .tokensRead
            case .deleteToken: .tokensWrite
            case .readInstance: .instancesRead
            case .writeInstance: .instancesWrite
            case .changeAuth: .instancesAuthWrite
            case .refresh: .tokenRefresh
            }
        }
    }

    static let scopes = [
        "readonly", "write", "all", "order-simple", "order-pos", "order-mgmt", "order-full",
        "readonly:refreshable", "all:refreshable", "order-pos:refreshable",
    ]

    @Test(arguments: scopes, Endpoint.allCases)
    func scopeMeetsEndpointExactlyWhenItHoldsThePermission(_ scope: String, _ endpoint: Endpoint)
        async throws
    {
        let h = try await APIHarness()
        let granted = try #require(TokenScope(wire: scope)).permissions.contains(
            endpoint.permission)
        try await h.test { client in
            let token = try await client.mint(
                "/instances/shop", auth: basic("shop", APIHarness.shopPassword),
                body: #"{"scope":"\#(scope)"}"#, harness: h)
            _ = try await client.mint(
                "/instances/shop", auth: basic("shop", APIHarness.shopPassword), harness: h)
            let auth = bearer(token)
            let response: TestResponse
            switch endpoint {
            case .listTokens:
                response = try await client.call(.get, "/instances/shop/private/tokens", auth: auth)
            case .deleteToken:
                response = try await client.call(
                    .delete, "/instances/shop/private/tokens/2", auth: auth)
            case .readInstance:
                response = try await client.call(.get, "/instances/shop/private", auth: auth)
            case .writeInstance:
                response = try await client.call(
                    .patch, "/instances/shop/private", auth: auth, json: #"{"name":"N"}"#)
            case .changeAuth:
                h.remember("changed pw")
                response = try await client.call(
                    .post, "/instances/shop/private/auth", auth: auth,
                    json: #"{"method":"token","password":"changed pw"}"#)
            case .refresh:
                let base = scope.split(separator: ":")[0]
                response = try await client.call(
                    .post, "/instances/shop/private/token", auth: auth,
                    json: #"{"scope":"\#(base)"}"#)
                h.remember(response.json["access_token"]?.stringValue ?? "unused-marker")
            }
            if granted {
                #expect((200..<300).contains(response.status.code), "\(scope) \(endpoint)")
            } else {
                #expect(response.status == .forbidden, "\(scope) \(endpoint)")
                #expect(response.code == 16)
            }
        }
    }
}
