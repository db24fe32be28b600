import EventLog
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import TextCoding
import TokenDomain
import TokenEngine

@testable import MerchantAPI

/// `GET /audit/tree-head`, `/audit/proof` and `/audit/consistency`: admin only, the same
/// documents as `tallystick-log prove` and `prove-consistency`, checkable with the public key.
@Suite("Audit routes")
struct AuditRouteTests {
    static let signer = try! TreeHeadSigner(rawKey: Array(repeating: 3, count: 32))
    static let admin = bearer(APIHarness.adminPassword)

    func harness() async throws -> APIHarness {
        try await APIHarness { $0.treeHeadSigner = Self.signer }
    }

    @Test func headsAndProofsCheckWithThePublicKey() async throws {
        let h = try await harness()
        try await h.test { client in
            let none = try await client.call(.get, "/audit/tree-head", auth: Self.admin)
            #expect(none.status == .noContent)
            let unsigned = try await client.call(.get, "/audit/proof?sequence=1", auth: Self.admin)
            #expect(unsigned.status == .badRequest)
            let first = try #require(
                try await h.engine.sealTreeHead(now: h.clock.nowMicroseconds()))
            _ = try await client.mint(
                "/instances/shop", auth: basic("shop", APIHarness.shopPassword), harness: h)
            let second = try #require(
                try await h.engine.sealTreeHead(now: h.clock.nowMicroseconds()))

            let head = try await client.call(.get, "/audit/tree-head", auth: Self.admin)
            #expect(head.status == .ok)
            #expect(SignedTreeHead(json: head.json) == second)

            for (sequence, size) in [(1, nil), (2, first.treeSize), (first.treeSize + 1, nil)] {
                let query = "sequence=\(sequence)" + (size.map { "&tree_size=\($0)" } ?? "")
                let response = try await client.call(
                    .get, "/audit/proof?\(query)", auth: Self.admin)
                #expect(response.status == .ok)
                let proof = try #require(InclusionProof(json: response.json))
                #expect(proof.treeHead == (size == nil ? second : first))
                #expect(try proof.check(with: Self.signer.publicKey).sequence == UInt64(sequence))
            }
            let grew = try await client.call(
                .get, "/audit/consistency?first=\(first.treeSize)&second=\(second.treeSize)",
                auth: Self.admin)
            #expect(grew.status == .ok)
            let consistency = try #require(ConsistencyProof(json: grew.json))
            try consistency.check(with: Self.signer.publicKey)

            // Sizes nobody signed, sequences outside the tree and bad numbers are 400.
            for query in [
                "/audit/proof?sequence=1&tree_size=\(first.treeSize + 1)",
                "/audit/proof?sequence=\(second.treeSize + 1)",
                "/audit/proof?sequence=x", "/audit/proof",
                "/audit/consistency?first=\(second.treeSize)&second=\(first.treeSize)",
                "/audit/consistency?first=1&second=\(second.treeSize)",
            ] {
                let refused = try await client.call(.get, query, auth: Self.admin)
                #expect(refused.status == .badRequest, "\(query)")
            }
        }
    }

    @Test func onlyAdminMayAudit() async throws {
        let h = try await harness()
        _ = try await h.engine.sealTreeHead(now: h.clock.nowMicroseconds())
        try await h.test { client in
            let shop = basic("shop", APIHarness.shopPassword)
            for path in ["/audit/tree-head", "/audit/proof?sequence=1"] {
                #expect(try await client.call(.get, path).status == .unauthorized)
                let token = try await client.mint(
                    "/instances/shop", auth: shop, harness: h)
                #expect(try await client.call(.get, path, auth: bearer(token)).status != .ok)
                #expect(try await client.call(.get, path, auth: Self.admin).status == .ok)
            }
        }
    }
}
