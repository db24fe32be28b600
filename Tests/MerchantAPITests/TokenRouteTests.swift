import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import TokenDomain

@testable import MerchantAPI

@Suite("Token routes")
struct TokenRouteTests {
    static let now: Int64 = 1_700_000_000

    @Test func configIsPublicAndIgnoresAMalformedAuthorizationHeader() async throws {
        let h = try await APIHarness()
        try await h.test { client in
            let response = try await client.call(.get, "/config", auth: "Garbage !!")
            #expect(response.status == .ok)
            #expect(response.json["name"]?.stringValue == "taler-merchant")
            #expect(response.json["version"]?.stringValue == "21:0:2")
            #expect(response.json["have_self_provisioning"]?.boolValue == false)
            #expect(response.json["mandatory_tan_channels"]?.arrayValue == [])
        }
    }

    /// Spec §9: standalone, `/config` carries what the SDKs need: the PHP SDK's factory
    /// throws without `currency`; the Python SDK also reads `exchanges`, `have_donau` and
    /// `payment_target_types`.
    @Test func configIsCompleteEnoughForTheSDKs() async throws {
        let h = try await APIHarness(
            publicConfiguration: PublicConfiguration(
                currency: "CHF", fractionDigits: 2, paymentTargetTypes: "iban"))
        try await h.test { client in
            let json = try await client.call(.get, "/config").json
            #expect(json["currency"]?.stringValue == "CHF")
            let chf = try #require(json["currencies"]?["CHF"])
            #expect(chf["name"]?.stringValue == "CHF")
            #expect(chf["currency"]?.stringValue == "CHF")
            #expect(chf["num_fractional_input_digits"]?.integer == 2)
            #expect(chf["num_fractional_normal_digits"]?.integer == 2)
            #expect(chf["num_fractional_trailing_zero_digits"]?.integer == 2)
            #expect(chf["alt_unit_names"]?["0"]?.stringValue == "CHF")
            #expect(json["exchanges"]?.arrayValue == [])
            #expect(json["have_donau"]?.boolValue == false)
            #expect(json["payment_target_types"]?.stringValue == "iban")
        }
    }

    @Test func unknownPathsAre404Code21AndUnknownMethods405Code20() async throws {
        let h = try await APIHarness()
        try await h.test { client in
            let missing = try await client.call(.get, "/private/nothing-here")
            #expect(missing.status == .notFound)
            #expect(missing.code == 21)
            #expect(missing.headers[.contentType] == "application/json")
            let method = try await client.call(.put, "/private/token")
            #expect(method.status == .methodNotAllowed)
            #expect(method.code == 20)
            let exotic = try await client.call(
                HTTPRequest.Method("PROPFIND")!, "/instances/shop/private")
            #expect(exotic.status == .methodNotAllowed)
            #expect(exotic.code == 20)
            let exoticUnknown = try await client.call(HTTPRequest.Method("PROPFIND")!, "/nowhere")
            #expect(exoticUnknown.code == 21)
            let prefixed = try await client.call(.patch, "/instances/shop/private/tokens")
            #expect(prefixed.status == .methodNotAllowed)
            #expect(prefixed.code == 20)
        }
    }

    @Test func basicMintReturnsEveryFieldWithNoStoreAndTheDefaultDay() async throws {
        let h = try await APIHarness()
        try await h.test { client in
            let response = try await client.call(
                .post, "/instances/shop/private/token",
                auth: basic("shop", APIHarness.shopPassword),
                json: #"{"scope":"order-pos"}"#)
            #expect(response.status == .ok)
            #expect(response.headers[.cacheControl] == "no-store")
            let json = response.json
            let token = try #require(json["access_token"]?.stringValue)
            h.remember(token)
            #expect(token.hasPrefix("secret-token:"))
            #expect(token.count == 13 + 52)
            #expect(json["token"]?.stringValue == token)
            #expect(json["scope"]?.stringValue == "order-pos")
            #expect(json["refreshable"]?.boolValue == false)
            #expect(json["expiration"]?["t_s"]?.integer == Self.now + 86_400)
        }
    }

    @Test func basicIsRefusedForAWrongUserAPasswordOrAnEndpointOtherThanMinting() async throws {
        let h = try await APIHarness()
        try await h.test { client in
            let wrongUser = try await client.call(
                .post, "/instances/shop/private/token",
                auth: basic("admin", APIHarness.adminPassword),
                json: #"{"scope":"all"}"#)
            #expect(wrongUser.status == .unauthorized)
            #expect(wrongUser.code == 2015)
            let wrongPassword = try await client.call(
                .post, "/instances/shop/private/token", auth: basic("shop", "nope"),
                json: #"{"scope":"all"}"#)
            #expect(wrongPassword.status == .unauthorized)
            #expect(wrongPassword.code == 2015)
            let listing = try await client.call(
                .get, "/instances/shop/private/tokens", auth: basic("shop", APIHarness.shopPassword)
            )
            #expect(listing.status == .unauthorized)
            #expect(listing.code == 2015)
            let none = try await client.call(.get, "/instances/shop/private/tokens")
            #expect(none.status == .unauthorized)
            let otherScheme = try await client.call(
                .get, "/instances/shop/private/tokens", auth: "Digest abc")
            #expect(otherScheme.status == .unauthorized)
            #expect(otherScheme.code == 2015)
        }
    }

    @Test func bearerIsCaseInsensitiveAllowsSeveralSpacesAndMayBeOmitted() async throws {
        let h = try await APIHarness()
        try await h.test { client in
            let token = try await client.mint(
                "/instances/shop", auth: basic("shop", APIHarness.shopPassword),
                body: #"{"scope":"readonly"}"#, harness: h)
            for header in ["bEaReR    \(token)", "BEARER \(token)", token, "bearer\t\(token)"] {
                let response = try await client.call(
                    .get, "/instances/shop/private/tokens", auth: header)
                #expect(response.status == .ok)
            }
            let noPrefix = try await client.call(
                .get, "/instances/shop/private/tokens",
                auth: "Bearer " + token.dropFirst("secret-token:".count))
            #expect(noPrefix.status == .unauthorized)
        }
    }

    @Test func legacyPasswordBearerMintsAnyScopeIncludingRefreshable() async throws {
        let h = try await APIHarness()
        try await h.test { client in
            let response = try await client.call(
                .post, "/instances/shop/private/token", auth: bearer(APIHarness.shopPassword),
                json: #"{"scope":"all:refreshable"}"#)
            #expect(response.status == .ok)
            h.remember(response.json["access_token"]?.stringValue ?? "")
            #expect(response.json["scope"]?.stringValue == "all:refreshable")
            #expect(response.json["refreshable"]?.boolValue == true)
        }
    }

    @Test func refreshingNeedsARefreshableTokenAndNoMorePermissions() async throws {
        let h = try await APIHarness()
        try await h.test { client in
            let owner = basic("shop", APIHarness.shopPassword)
            let all = try await client.mint("/instances/shop", auth: owner, harness: h)
            let plain = try await client.call(
                .post, "/instances/shop/private/token", auth: bearer(all),
                json: #"{"scope":"readonly"}"#)
            #expect(plain.status == .forbidden)
            #expect(plain.code == 16)
            let readonly = try await client.mint(
                "/instances/shop", auth: owner, body: #"{"scope":"readonly:refreshable"}"#,
                harness: h)
            let wider = try await client.call(
                .post, "/instances/shop/private/token", auth: bearer(readonly),
                json: #"{"scope":"order-simple"}"#)
            #expect(wider.status == .forbidden)
            #expect(wider.code == 16)
            let parent = try await client.mint(
                "/instances/shop", auth: owner, body: #"{"scope":"order-full:refreshable"}"#,
                harness: h)
            let child = try await client.call(
                .post, "/instances/shop/private/token", auth: bearer(parent),
                json: #"{"scope":"order-pos","duration":{"d_us":60000000}}"#)
            #expect(child.status == .ok)
            h.remember(child.json["access_token"]?.stringValue ?? "")
            #expect(child.json["expiration"]?["t_s"]?.integer == Self.now + 60)
            let stillValid = try await client.call(
                .post, "/instances/shop/private/token", auth: bearer(parent),
                json: #"{"scope":"order-simple"}"#)
            #expect(stillValid.status == .ok)
            h.remember(stillValid.json["access_token"]?.stringValue ?? "")
        }
    }

    @Test(arguments: [
        (#"{"d_us":"forever"}"#, "never"), (#"{"d_us":"FoReVeR"}"#, "never"),
        (#"{"d_us":0}"#, "0"), (#"{"d_us":9007199254740991}"#, "max"), ("null", "default"),
    ])
    func relativeTimesThatAreAccepted(_ duration: String, _ expected: String) async throws {
        let h = try await APIHarness()
        try await h.test { client in
            let response = try await client.call(
                .post, "/instances/shop/private/token",
                auth: basic("shop", APIHarness.shopPassword),
                json: #"{"scope":"readonly","duration":\#(duration)}"#)
            #expect(response.status == .ok)
            h.remember(response.json["access_token"]?.stringValue ?? "")
            let expiration = response.json["expiration"]?["t_s"]
            switch expected {
            case "never": #expect(expiration?.stringValue == "never")
            case "0": #expect(expiration?.integer == Self.now)
            case "default": #expect(expiration?.integer == Self.now + 86_400)
            default: #expect(expiration?.integer == Self.now + 9_007_199_254)
            }
        }
    }

    @Test(arguments: [
        #"{"d_us":-1}"#, #"{"d_us":1.5}"#, #"{"d_us":9007199254740992}"#,
        #"{"d_us":"soon"}"#, "5", #""forever""#, "{}", #"{"d_us":1e3}"#,
        #"{"d_us":99999999999999999999999}"#,
    ])
    func relativeTimesThatAreRefusedWithCode26(_ duration: String) async throws {
        let h = try await APIHarness()
        try await h.test { client in
            let response = try await client.call(
                .post, "/instances/shop/private/token",
                auth: basic("shop", APIHarness.shopPassword),
                json: #"{"scope":"readonly","duration":\#(duration)}"#)
            #expect(response.status == .badRequest)
            #expect(response.code == 26)
            #expect(response.json["parameter"]?.stringValue == "duration")
        }
    }

    @Test func malformedMintBodies() async throws {
        let h = try await APIHarness()
        try await h.test { client in
            let owner = basic("shop", APIHarness.shopPassword)
            let unknown = try await client.call(
                .post, "/instances/shop/private/token", auth: owner,
                json: #"{"scope":"everything"}"#)
            #expect(unknown.status == .badRequest)
            #expect(unknown.code == 26)
            #expect(unknown.json["parameter"]?.stringValue == "scope")
            let missing = try await client.call(
                .post, "/instances/shop/private/token", auth: owner, json: #"{"scope":null}"#)
            #expect(missing.status == .badRequest)
            #expect(missing.code == 25)
            let notJSON = try await client.call(
                .post, "/instances/shop/private/token", auth: owner, json: #"{"scope":"#)
            #expect(notJSON.status == .badRequest)
            #expect(notJSON.code == 22)
            let description = try await client.call(
                .post, "/instances/shop/private/token", auth: owner,
                json: #"{"scope":"all","description":5}"#)
            #expect(description.code == 26)
            let refreshable = try await client.call(
                .post, "/instances/shop/private/token", auth: owner,
                json: #"{"scope":"all","refreshable":"yes"}"#)
            #expect(refreshable.code == 26)
            let huge = String(repeating: " ", count: MerchantAPI.maximumBodyBytes + 1)
            let tooLarge = try await client.call(
                .post, "/instances/shop/private/token", auth: owner,
                json: #"{"scope":"all"}"# + huge)
            #expect(tooLarge.status == .contentTooLarge)
            #expect(tooLarge.code == 32)
        }
    }

    @Test func revokingThePresentedToken() async throws {
        let h = try await APIHarness()
        try await h.test { client in
            let token = try await client.mint(
                "/instances/shop", auth: basic("shop", APIHarness.shopPassword), harness: h)
            let revoked = try await client.call(
                .delete, "/instances/shop/private/token", auth: bearer(token))
            #expect(revoked.status == .noContent)
            let again = try await client.call(
                .delete, "/instances/shop/private/token", auth: bearer(token))
            #expect(again.status == .unauthorized)
            #expect(again.code == 2015)
            let password = try await client.call(
                .delete, "/instances/shop/private/token", auth: bearer(APIHarness.shopPassword))
            #expect(password.status == .badRequest)
            #expect(password.code == 26)
        }
    }

    @Test func listingTokensPagesBothWaysAndIs204WhenEmpty() async throws {
        let h = try await APIHarness()
        try await h.test { client in
            let owner = bearer(APIHarness.shopPassword)
            let empty = try await client.call(.get, "/instances/shop/private/tokens", auth: owner)
            #expect(empty.status == .noContent)
            #expect(empty.body.readableBytes == 0)
            for i in 1...4 {
                _ = try await client.mint(
                    "/instances/shop", auth: basic("shop", APIHarness.shopPassword),
                    body: #"{"scope":"readonly","description":"t\#(i)"}"#, harness: h)
            }
            let newest = try await client.call(.get, "/instances/shop/private/tokens", auth: owner)
            #expect(newest.status == .ok)
            #expect(newest.headers[.cacheControl] == "no-store")
            let tokens = try #require(newest.json["tokens"]?.arrayValue)
            #expect(tokens.compactMap { $0["serial"]?.integer } == [4, 3, 2, 1])
            let first = tokens[0]
            #expect(first["description"]?.stringValue == "t4")
            #expect(first["scope"]?.stringValue == "readonly")
            #expect(first["refreshable"]?.boolValue == false)
            #expect(first["creation_time"]?["t_s"]?.integer == Self.now)
            #expect(first["expiration"]?["t_s"]?.integer == Self.now + 86_400)
            #expect(first["access_token"] == nil && first["token"] == nil)
            let older = try await client.call(
                .get, "/instances/shop/private/tokens?limit=-2&offset=3", auth: owner)
            #expect(
                older.json["tokens"]?.arrayValue?.compactMap { $0["serial"]?.integer } == [2, 1])
            let ascending = try await client.call(
                .get, "/instances/shop/private/tokens?limit=2&offset=1", auth: owner)
            #expect(
                ascending.json["tokens"]?.arrayValue?.compactMap { $0["serial"]?.integer } == [
                    2, 3,
                ])
            for query in ["limit=0", "limit=abc", "offset=-1", "limit=1.5", "offset=x"] {
                let bad = try await client.call(
                    .get, "/instances/shop/private/tokens?\(query)", auth: owner)
                #expect(bad.status == .badRequest)
                #expect(bad.code == 26)
            }
            h.clock.advance(by: 86_400_000_000)
            let expired = try await client.call(.get, "/instances/shop/private/tokens", auth: owner)
            #expect(expired.status == .noContent)
        }
    }

    @Test func deletingTokensBySerial() async throws {
        let h = try await APIHarness()
        try await h.test { client in
            let owner = bearer(APIHarness.shopPassword)
            let token = try await client.mint(
                "/instances/shop", auth: basic("shop", APIHarness.shopPassword), harness: h)
            let bad = try await client.call(
                .delete, "/instances/shop/private/tokens/x", auth: owner)
            #expect(bad.status == .badRequest)
            #expect(bad.code == 26)
            let deleted = try await client.call(
                .delete, "/instances/shop/private/tokens/1", auth: owner)
            #expect(deleted.status == .noContent)
            let again = try await client.call(
                .delete, "/instances/shop/private/tokens/1", auth: owner)
            #expect(again.status == .notFound)
            #expect(again.code == 2042)
            let unknown = try await client.call(
                .delete, "/instances/shop/private/tokens/99", auth: owner)
            #expect(unknown.code == 2042)
            let dead = try await client.call(
                .get, "/instances/shop/private/tokens", auth: bearer(token))
            #expect(dead.status == .unauthorized)
        }
    }

    @Test func adminIsServedAtTheRootAndUnderInstancesAdmin() async throws {
        let h = try await APIHarness()
        try await h.test { client in
            let root = try await client.mint(
                auth: basic("admin", APIHarness.adminPassword), harness: h)
            let prefixed = try await client.call(
                .get, "/instances/admin/private/tokens", auth: bearer(root))
            #expect(prefixed.status == .ok)
            let onShop = try await client.call(
                .get, "/instances/shop/private/tokens", auth: bearer(root))
            #expect(onShop.status == .unauthorized)
            let unknown = try await client.call(
                .post, "/instances/nobody/private/token", auth: basic("nobody", "x"),
                json: #"{"scope":"all"}"#)
            #expect(unknown.status == .notFound)
            #expect(unknown.code == 2000)
            let invalidID = try await client.call(.get, "/instances/-x/private/tokens")
            #expect(invalidID.code == 2000)
        }
    }

    @Test func metricsCountRequestsAndTokensOnTheInternalListenerOnly() async throws {
        let h = try await APIHarness()
        try await h.test { client in
            _ = try await client.mint(
                "/instances/shop", auth: basic("shop", APIHarness.shopPassword), harness: h)
            for method in [HTTPRequest.Method.get, .post, .head] {
                let public_ = try await client.call(method, "/metrics")
                #expect(public_.status == .notFound, "\(method)")
                #expect(method == .head || public_.code == 21)
            }
        }
        try await h.test(internalListener: true) { client in
            let unknown = try await client.call(.get, "/config")
            #expect(unknown.status == .notFound)
            #expect(unknown.code == 21)
            let posted = try await client.call(.post, "/metrics")
            #expect(posted.status == .methodNotAllowed)
            #expect(posted.code == 20)
            let metrics = try await client.call(.get, "/metrics")
            #expect(metrics.status == .ok)
            let exposition = text(metrics.body)
            #expect(exposition.contains("tallystick_tokens_issued_total 1"))
            #expect(exposition.contains("tallystick_http_requests_total"))
            #expect(exposition.contains(#"route="/instances/{instance}/private/token""#))
            #expect(exposition.contains("tallystick_http_request_duration_seconds_bucket"))
        }
    }
}
