import Testing

@testable import TokenDomain

@Suite("EventCodec: binary payloads")
struct EventCodecTests {
    typealias F = Fixture

    static let examples: [DomainEvent] =
        [
            F.created(email: "shop@example.com", phone: "+41 79 000 00 00"),
            F.created(auth: .external, details: []),
            .instanceCredentialsChanged(
                InstanceCredentialsChanged(
                    at: F.t0, auth: .password(F.otherPassword), generation: 2)),
            .instanceCredentialsChanged(
                InstanceCredentialsChanged(at: F.t0, auth: .external, generation: 9)),
            .instanceDetailsUpdated(
                InstanceDetailsUpdated(
                    at: F.t0, name: "Café ☕", email: nil, phoneNumber: "1", details: [1, 2])),
            .instanceDeleted(InstanceDeleted(at: F.t0)),
            .instancePurged(InstancePurged(at: -1)),
            F.issued(1, F.scope("order-pos:refreshable"), description: "Kasse 1"),
            F.issued(2, F.scope("write"), expiry: .never, origin: .token(parent: TokenSerial(1))),
            F.issued(3, F.scope("readonly"), origin: .password(basic: false), description: ""),
            F.revoked(1, at: F.t0 + 5),
            F.revoked(2, at: F.t0 + 6, reason: .deletedBySerial),
        ] + ChallengeFixture.examples

    @Test("round trip", arguments: examples)
    func roundTrip(event: DomainEvent) throws {
        let (tag, payload) = EventCodec.encode(event)
        #expect(tag == event.tag.rawValue)
        #expect(payload.first == EventCodec.layoutVersion)
        #expect(try EventCodec.decode(tag: tag, payload: payload) == event)
    }

    @Test func everyTagIsListed() {
        #expect(
            EventTag.allTags == [
                "instance-created.v1", "instance-credentials-changed.v1",
                "instance-details-updated.v1",
                "instance-deleted.v1", "instance-purged.v1", "token-issued.v1", "token-revoked.v1",
                "challenge-created.v1", "challenge-code-transmitted.v1",
                "challenge-attempt-failed.v1", "challenge-solved.v1", "challenge-consumed.v1",
                "challenge-expired.v1", "instance-logins-blocked.v1",
                "instance-logins-unblocked.v1", "instance-address-validated.v1",
                "backend-credential-set.v1", "backend-credential-removed.v1",
                "merchant-instance-changed.v1",
            ])
        #expect(Set(Self.examples.map(\.tag)) == Set(EventTag.allCases))
    }

    /// Pins the stored layout of `token-issued.v1`: a change here is a format change and
    /// needs a new tag or layout version, not an edit.
    @Test func tokenIssuedLayoutIsPinned() throws {
        let hash = TokenHash(bytes: Array(0..<32))!
        let event = DomainEvent.tokenIssued(
            TokenIssued(
                serial: TokenSerial(0x0102), hash: hash, scope: .orderPos, refreshable: true,
                issuedAt: 0x10,
                expiry: .never, description: "ab", origin: .token(parent: TokenSerial(7))))
        let (tag, payload) = EventCodec.encode(event)
        var expected: [UInt8] = [1, 0x02, 0x01, 0, 0, 0, 0, 0, 0]
        expected += Array(0..<32)
        expected += [5, 1]
        expected += [0x10, 0, 0, 0, 0, 0, 0, 0]
        expected += [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]
        expected += [2, 7, 0, 0, 0, 0, 0, 0, 0]
        expected += [1, 2, 0, 0, 0, 0x61, 0x62]
        #expect(tag == "token-issued.v1")
        #expect(payload == expected)
    }

    @Test func tokenRevokedLayoutIsPinned() {
        let (_, payload) = EventCodec.encode(F.revoked(3, at: 0x0A0B, reason: .deletedBySerial))
        #expect(payload == [1, 3, 0, 0, 0, 0, 0, 0, 0, 0x0B, 0x0A, 0, 0, 0, 0, 0, 0, 2])
    }

    @Test func randomEventsRoundTrip() throws {
        var random = SeededRandom(seed: 0xC0DEC)
        for _ in 0..<3000 {
            let event = random.event()
            let (tag, payload) = EventCodec.encode(event)
            #expect(try EventCodec.decode(tag: tag, payload: payload) == event)
        }
    }

    // MARK: malformed input

    @Test func unknownTag() {
        #expect(throws: EventDecodingError.self) {
            try EventCodec.decode(tag: "token-issued.v9", payload: [1])
        }
        do {
            _ = try EventCodec.decode(tag: "TokenIssued", payload: [])
            Issue.record("decoded an unknown tag")
        } catch {
            #expect(error.reason == .unknownTag)
        }
    }

    @Test func unsupportedLayoutVersion() throws {
        var payload = EventCodec.encode(F.revoked(1, at: 1)).payload
        payload[0] = 2
        #expect(
            throws: EventDecodingError(
                tag: "token-revoked.v1", field: "version", offset: 0,
                reason: .unsupportedLayoutVersion(2))
        ) {
            try EventCodec.decode(tag: "token-revoked.v1", payload: payload)
        }
    }

    @Test func trailingBytes() {
        let payload = EventCodec.encode(F.revoked(1, at: 1)).payload + [0]
        #expect(
            throws: EventDecodingError(
                tag: "token-revoked.v1", field: "end", offset: 18, reason: .trailingBytes(1))
        ) {
            try EventCodec.decode(tag: "token-revoked.v1", payload: payload)
        }
    }

    static let invalid: [(String, [UInt8], Int, EventDecodingError.Reason)] = [
        // (field, bytes to write at offset, offset, reason) on a token-issued payload
        ("serial", [0, 0, 0, 0, 0, 0, 0, 0], 1, .invalidValue),
        ("scope", [0], 41, .invalidValue),
        ("scope", [8], 41, .invalidValue),
        ("flags", [2], 42, .invalidValue),
        ("origin", [3], 59, .invalidValue),
        ("origin", [2, 0, 0, 0, 0, 0, 0, 0, 0], 59, .invalidValue),
        ("origin", [1, 1, 0, 0, 0, 0, 0, 0, 0], 59, .invalidValue),
        ("description", [2], 68, .invalidValue),
        ("description", [1, 2, 0, 0, 0, 0xC3, 0x28], 68, .invalidUTF8),
        ("description", [1, 9, 0, 0, 0, 0x61, 0x62], 68, .truncated),
    ]

    @Test("invalid values are named", arguments: invalid)
    func invalidValues(
        field: String, patch: [UInt8], at offset: Int, reason: EventDecodingError.Reason
    ) {
        var payload = EventCodec.encode(F.issued(1, F.scope("all"), description: "ab")).payload
        payload.replaceSubrange(offset..<(offset + patch.count), with: patch)
        do {
            _ = try EventCodec.decode(tag: "token-issued.v1", payload: payload)
            Issue.record("decoded an invalid \(field)")
        } catch {
            #expect(error.field == field)
            #expect(error.reason == reason)
        }
    }

    @Test func everyTruncationThrows() {
        var random = SeededRandom(seed: 7)
        for event in Self.examples + (0..<200).map({ _ in random.event() }) {
            let (tag, payload) = EventCodec.encode(event)
            for length in 0..<payload.count {
                let prefix = Array(payload[..<length])
                #expect(throws: EventDecodingError.self) {
                    try EventCodec.decode(tag: tag, payload: prefix)
                }
            }
        }
    }

    /// Random bytes, bit flips and splices under every tag: decoding either throws or yields
    /// an event that encodes back to exactly the same bytes (one byte form per event).
    @Test func fuzz() throws {
        var random = SeededRandom(seed: 0xF022)
        let valid = Self.examples.map(EventCodec.encode)
        for round in 0..<20_000 {
            let tag = EventTag.allTags.randomElement(using: &random)!
            var payload: [UInt8]
            switch round % 3 {
            case 0:
                payload = random.bytes(Int.random(in: 0...120, using: &random))
                if random.chance(0.7), !payload.isEmpty { payload[0] = 1 }
            case 1:
                payload = valid.randomElement(using: &random)!.payload
                for _ in 0...Int.random(in: 0...3, using: &random) where !payload.isEmpty {
                    let index = Int.random(in: 0..<payload.count, using: &random)
                    payload[index] ^= UInt8(1) << UInt8.random(in: 0...7, using: &random)
                }
            default:
                let a = valid.randomElement(using: &random)!.payload
                let b = valid.randomElement(using: &random)!.payload
                payload =
                    Array(a.prefix(Int.random(in: 0...a.count, using: &random)))
                    + Array(b.suffix(Int.random(in: 0...b.count, using: &random)))
            }
            do {
                let event = try EventCodec.decode(tag: tag, payload: payload)
                let again = EventCodec.encode(event)
                #expect(again.tag == tag)
                #expect(again.payload == payload, "round \(round)")
            } catch {
                #expect(!error.description.isEmpty)
            }
        }
    }

    @Test func emptyPayloadUnderEveryTag() {
        for tag in EventTag.allTags {
            #expect(
                throws: EventDecodingError(
                    tag: tag, field: "version", offset: 0, reason: .truncated)
            ) {
                try EventCodec.decode(tag: tag, payload: [])
            }
        }
    }
}
