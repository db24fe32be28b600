import Testing

@testable import TokenDomain

@Suite("EventTag from stored bytes")
struct EventTagTests {
    @Test("every tag is found from its bytes", arguments: EventTag.allCases)
    func everyTag(tag: EventTag) {
        let bytes = Array(tag.rawValue.utf8)
        #expect(bytes.withUnsafeBytes { EventTag(bytes: $0) } == tag)
    }

    static let nonTags: [[UInt8]] = [
        [],
        Array("token-issued".utf8),
        Array("token-issued.v2".utf8),
        Array("TOKEN-ISSUED.V1".utf8),
        Array("token-issued.v1\u{0}".utf8),
        Array("token-issued.v1 ".utf8),
        Array("token-revoked.v0".utf8),
        Array("instance-purged.v2".utf8),
        Array("instance-xreated.v1".utf8),
        Array("instance-created.v2".utf8),
        Array("instance-deleted.v2".utf8),
        Array("instance-details-updated.v2".utf8),
        Array("instance-credentials-changed.v2".utf8),
        Array("xnstance-credentials-changed.v1".utf8),
        Array("challenge-solved.v2".utf8),
        Array("challenge-xreated.v1".utf8),
        Array("challenge-expired.v2".utf8),
        Array("challenge-consumed.v2".utf8),
        Array("challenge-attempt-failed.v2".utf8),
        Array("challenge-code-transmitted.v2".utf8),
        Array("instance-logins-blocked.v2".utf8),
        Array("instance-logins-unblocked.v2".utf8),
        [0xFF, 0xFE, 0x00, 0x80, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4A, 0x4B],
    ]

    @Test("non-tags are nil", arguments: nonTags)
    func nonTag(bytes: [UInt8]) {
        #expect(bytes.withUnsafeBytes { EventTag(bytes: $0) } == nil)
    }

    @Test func decodingFromTagBytes() throws {
        for event in EventCodecTests.examples {
            let (tag, payload) = EventCodec.encode(event)
            let decoded = try Array(tag.utf8).withUnsafeBytes { tagBytes in
                try payload.withUnsafeBytes { payloadBytes in
                    try EventCodec.decode(tagBytes: tagBytes, payload: payloadBytes)
                }
            }
            #expect(decoded == event)
        }
    }

    @Test func unknownTagBytesAreNamedInTheError() {
        let tag = Array("token-issued.v9".utf8)
        #expect(
            throws: EventDecodingError(
                tag: "token-issued.v9", field: "tag", offset: 0, reason: .unknownTag)
        ) {
            try tag.withUnsafeBytes { tagBytes in
                try [UInt8(1)].withUnsafeBytes { payload in
                    try EventCodec.decode(tagBytes: tagBytes, payload: payload)
                }
            }
        }
        let long = [UInt8](repeating: 0x61, count: 100) + [0xFF]
        #expect(
            throws: EventDecodingError(
                tag: String(repeating: "a", count: 64), field: "tag", offset: 0,
                reason: .unknownTag)
        ) {
            try long.withUnsafeBytes { tagBytes in
                try EventCodec.decode(
                    tagBytes: tagBytes, payload: UnsafeRawBufferPointer(start: nil, count: 0))
            }
        }
    }
}

@Suite("Byte comparison")
struct ByteComparisonTests {
    /// `bytes` placed `offset` bytes into a fresh buffer (records hold stream ids and tags at
    /// any alignment), passed to `body` as a buffer of exactly their length.
    func placed<R>(_ bytes: [UInt8], at offset: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        let storage = [UInt8](repeating: 0xEE, count: offset) + bytes
        return storage.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[offset...])) }
    }

    @Test(
        "equal bytes match at any alignment; one changed byte anywhere, or another length, does not",
        arguments: 0..<8)
    func everyPosition(offset: Int) {
        for length in 0...33 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            placed(bytes, at: offset) { a in
                // A separate copy, at another alignment, so equal contents are compared and
                // not one buffer with itself.
                placed(bytes, at: (offset + 3) % 8) { b in
                    #expect(a.baseAddress != b.baseAddress || length == 0)
                    #expect(a.hasSameBytes(as: b))
                }
                placed(bytes + [0], at: offset) { longer in
                    #expect(!a.hasSameBytes(as: longer))
                    #expect(!longer.hasSameBytes(as: a))
                }
                for position in 0..<length {
                    var changed = bytes
                    changed[position] ^= 0x01
                    let same = placed(changed, at: (offset + 5) % 8) { a.hasSameBytes(as: $0) }
                    #expect(!same, "length \(length), byte \(position), offset \(offset)")
                }
            }
        }
    }
}
