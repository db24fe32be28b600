import Foundation
import Hummingbird
import HummingbirdTesting
import MerchantAPI
import Testing

/// Found by the crash fault (tools/fire): presenting revoked tokens counts as failed logins,
/// and once the throttle held an address or the instance back, every request with a valid
/// login token got 429 too.
@Suite("Login throttling and valid login tokens")
struct ThrottledTokenTests {
    @Test func aValidLoginTokenWorksWhileRevokedOnesAreThrottled() async throws {
        var policy = LoginThrottle.Policy()
        policy.freeFailuresPerClient = 2
        policy.freeFailuresPerInstance = 2
        let h = try await APIHarness(throttle: policy)
        try await h.test { client in
            let valid = try await client.mint(
                "/instances/shop", auth: basic("shop", APIHarness.shopPassword),
                body: #"{"scope":"readonly"}"#, harness: h)
            let revoked = try await client.mint(
                "/instances/shop", auth: basic("shop", APIHarness.shopPassword),
                body: #"{"scope":"readonly"}"#, harness: h)
            let gone = try await client.call(
                .delete, "/instances/shop/private/token", auth: bearer(revoked))
            #expect(gone.status == .noContent)
            var statuses = [HTTPResponse.Status]()
            for _ in 0..<4 {
                let refused = try await client.call(
                    .get, "/instances/shop/private/tokens", auth: bearer(revoked))
                statuses.append(refused.status)
            }
            #expect(statuses.prefix(3).allSatisfy { $0 == .unauthorized })
            #expect(statuses.last == .tooManyRequests)
            let used = try await client.call(
                .get, "/instances/shop/private/tokens", auth: bearer(valid))
            #expect(used.status == .ok)
            let guess = try await client.call(
                .get, "/instances/shop/private/tokens", auth: bearer("a password guess"))
            #expect(guess.status == .tooManyRequests)
        }
    }
}
