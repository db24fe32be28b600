import Foundation
import Testing

@testable import TokenDomain

@Suite("Memory per token", .serialized)
struct MemoryTests {
    /// Per token, with 1,000,000 tokens in one instance (64-bit Linux):
    ///
    /// - `TokenRecord`: 104 bytes (stride; see its doc comment), in one contiguous array.
    ///   Spare capacity after a doubling is address space, not resident memory, until
    ///   written; `reserveTokenCapacity` makes it exact.
    /// - Hash index: 8-byte slots, a power of two at ≤ 3/4 load: 2^21 slots for 1M tokens =
    ///   16.8 MB ≈ 17 bytes per token. (A `[TokenHash: UInt32]` would need 36-byte buckets,
    ///   ≈ 75 bytes per token.)
    /// - A description of more than 15 UTF-8 bytes: one heap block (32-byte header + the
    ///   bytes, rounded up by malloc: 64 bytes for 20 bytes of text); 15 bytes or fewer are
    ///   inline in the record.
    ///
    /// ≈ 121 bytes per token without long descriptions, ≈ 185 with a 20-byte description on
    /// every token: under the 256-byte budget.
    @Test func recordLayout() {
        #expect(MemoryLayout<TokenRecord>.stride == 104)
        #expect(MemoryLayout<TokenHash>.stride == 32)
        #expect(MemoryLayout<TokenSerial>.stride == 8)
        let slotsPerToken = 2_097_152.0 / 1_000_000
        let perToken = Double(MemoryLayout<TokenRecord>.stride) + 8 * slotsPerToken
        #expect(perToken < 122)
        #expect(perToken + 64 < 256)
    }

    /// Loads a million tokens and measures the growth of the resident set: the real figure
    /// behind the arithmetic above (also proves folding does not copy the token array).
    @Test func residentMemoryForAMillionTokens() throws {
        let count = 1_000_000
        var state = ServerState()
        try state.apply(StoredEvent(instance: Fixture.shop, event: Fixture.created()))
        let before = residentBytes()
        for index in 0..<UInt64(count) {
            let words = (index &* 0x9E37_79B9_7F4A_7C15, ~index, index, 0x5EED)
            let hash = withUnsafeBytes(of: words) { TokenHash(unchecked: $0) }
            let event = TokenIssued(
                serial: TokenSerial(index + 1), hash: hash, scope: .orderPos,
                refreshable: index % 2 == 0,
                issuedAt: Fixture.t0, expiry: .at(Fixture.t0 + Fixture.day),
                description: index % 4 == 0 ? "Kassenterminal \(index % 1000)" : nil,
                origin: .password(basic: true))
            try state.apply(StoredEvent(instance: Fixture.shop, event: .tokenIssued(event)))
        }
        let perToken = Double(residentBytes() - before) / Double(count)
        print(
            "resident bytes per token with \(count) tokens (a quarter with a long description): \(Int(perToken))"
        )
        let instance = try #require(state[Fixture.shop])
        #expect(instance.tokens.count == count)
        #expect(instance.token(hash: instance.tokens[123_456].hash)?.serial == TokenSerial(123_457))
        #expect(perToken < 256)
    }

    private func residentBytes() -> Int {
        let statm = (try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8)) ?? "0 0"
        let pages = Int(statm.split(separator: " ")[1]) ?? 0
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}
