import Testing

@testable import TokenDomain

@Suite("Login token text and constant-time comparison")
struct LoginTokenTests {
    /// Vectors computed bit by bit outside Swift (GNUnet's Crockford base32).
    static let vectors: [([UInt8], String)] = [
        (Array("foobar".utf8), "CSQPYRK1E8"),
        (Array(0..<32), "000G40R40M30E209185GR38E1W8124GK2GAHC5RR34D1P70X3RFG"),
        ([UInt8](repeating: 255, count: 32), String(repeating: "Z", count: 51) + "G"),
        ([UInt8](repeating: 0, count: 32), String(repeating: "0", count: 52)),
        ([], ""),
    ]

    @Test("Crockford base32 vectors", arguments: vectors)
    func crockford(bytes: [UInt8], text: String) {
        #expect(bytes.withUnsafeBytes { Crockford32.encode($0) } == text)
        #expect(Crockford32.decode(Array(text.utf8), byteCount: bytes.count) == bytes)
    }

    @Test func tokenFormat() {
        let token = LoginToken.encode(secret: Array(0..<32))
        #expect(token == "secret-token:000G40R40M30E209185GR38E1W8124GK2GAHC5RR34D1P70X3RFG")
        #expect(token.utf8.count == 13 + 52)
        #expect(LoginToken.decode(token) == Array(0..<32))
    }

    @Test func randomSecretsRoundTrip() {
        var random = SeededRandom(seed: 52)
        let alphabet = Set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
        for _ in 0..<1000 {
            let secret = random.bytes(32)
            let token = LoginToken.encode(secret: secret)
            #expect(token.dropFirst(13).allSatisfy { alphabet.contains($0) })
            #expect(LoginToken.decode(token) == secret)
            #expect(LoginToken.decode(Substring(token)) == secret)
        }
    }

    static let body = "000G40R40M30E209185GR38E1W8124GK2GAHC5RR34D1P70X3RFG"

    static let rejected: [String] = [
        "",
        body,
        "secret-token:",
        "secret-token:" + body.lowercased(),
        "Secret-Token:" + body,
        "secret-token: " + body,
        "secret-token:" + body + "0",
        "secret-token:" + body.dropLast(),
        "secret-token:" + body.dropLast() + "1",  // padding bits set
        "secret-token:" + body.dropLast() + "H",
        "secret-token:I" + body.dropFirst(),
        "secret-token:L" + body.dropFirst(),
        "secret-token:O" + body.dropFirst(),
        "secret-token:U" + body.dropFirst(),
        "secret-token:=" + body.dropFirst(),
        "secret-token:é" + body.dropFirst(2),
        "secret-token:hunter2",
    ]

    @Test("strict decoding", arguments: rejected)
    func strict(text: String) {
        #expect(LoginToken.decode(text) == nil)
    }

    static let comparisons: [([UInt8], [UInt8], Bool)] = [
        ([], [], true),
        ([1, 2, 3], [1, 2, 3], true),
        ([1, 2, 3], [1, 2, 4], false),
        ([1, 2, 3], [0, 2, 3], false),
        ([1, 2, 3], [1, 2], false),
        ([1, 2], [1, 2, 3], false),
        (Array(repeating: 0xAA, count: 64), Array(repeating: 0xAA, count: 64), true),
    ]

    @Test("constant-time equality", arguments: comparisons)
    func constantTime(lhs: [UInt8], rhs: [UInt8], equal: Bool) {
        #expect(ConstantTime.equals(lhs, rhs) == equal)
    }

    @Test func tokenHashBytesAndOrder() throws {
        let bytes = Array(UInt8(0)..<32)
        let hash = try #require(TokenHash(bytes: bytes))
        #expect(hash.bytes == bytes)
        #expect(
            hash.description == "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
        #expect(TokenHash(bytes: Array(bytes.dropLast())) == nil)
        var random = SeededRandom(seed: 3)
        for _ in 0..<500 {
            let a = random.bytes(32), b = random.bytes(32)
            #expect((TokenHash(bytes: a)! < TokenHash(bytes: b)!) == a.lexicographicallyPrecedes(b))
        }
        #expect(MemoryLayout<TokenHash>.size == 32)
    }

    static let ids: [(String, Bool)] = [
        ("admin", true), ("shop1", true), ("a.b@c-d_e", true), ("9x", true),
        ("a", false), ("", false), ("-shop", false), ("_x", false), ("shop one", false),
        ("shop/1", false), ("shöp", false), ("Ab", true),
        (String(repeating: "a", count: 200), true), (String(repeating: "a", count: 201), false),
        ("a" + String(repeating: "-", count: 199), true),
        (String(repeating: "9", count: 5000), false),
    ]

    @Test("instance id pattern", arguments: ids)
    func instanceIDs(candidate: String, valid: Bool) {
        #expect((InstanceID(candidate) != nil) == valid)
    }
}
