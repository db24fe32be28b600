import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import TokenDomain

@testable import MerchantAPI
@testable import TokenEngine

/// Spec §10.10: what a credential looks like decides how it is checked, and a malformed one
/// is refused before any check.
@Suite("Credential shapes (spec §10.10)")
struct CredentialShapeTests {
    /// Found by the adversarial probe: `Basic <base64> junk` was accepted, because the header
    /// parser took the base64 up to the first space and ignored the rest.
    @Test func basicWithAnythingAfterTheBase64IsRefused() async throws {
        let h = try await APIHarness()
        try await h.test { client in
            let credentials = basic("shop", APIHarness.shopPassword)
            for junk in [" junk", "  x", " \(credentials)", "\t=", " ,"] {
                let refused = try await client.call(
                    .post, "/instances/shop/private/token", auth: credentials + junk,
                    json: #"{"scope":"readonly"}"#)
                #expect(refused.status == .unauthorized, "\(junk.debugDescription)")
                #expect(refused.code == 2015)
            }
            // Trailing whitespace is tolerated, as everywhere else in the header.
            let padded = try await client.call(
                .post, "/instances/shop/private/token", auth: credentials + " \t ",
                json: #"{"scope":"readonly"}"#)
            #expect(padded.status == .ok)
            h.remember(padded.json["access_token"]?.stringValue ?? "")
        }
    }

    /// Found by the adversarial probe: an unknown `secret-token:` of the token shape cost a
    /// scrypt run (it was tried as the instance password), a revoked one did not, so timing
    /// told an issued token from a random one.
    @Test func anUnknownTokenShapedBearerRunsNoKDF() async throws {
        let h = try await APIHarness()
        try await h.test { client in
            let unknown = LoginToken.encode(secret: (0..<32).map { UInt8($0) })
            let before = h.engine.hasher.runs.current
            let refused = try await client.call(
                .get, "/instances/shop/private/tokens", auth: bearer(unknown))
            #expect(refused.status == .unauthorized)
            #expect(refused.code == 2015)
            #expect(h.engine.hasher.runs.current == before)
        }
    }
}
