import Testing

@testable import TokenDomain

@Suite("Two-factor codec, snapshot and digest")
struct ChallengeStorageTests {
    typealias F = Fixture
    typealias C = ChallengeFixture

    /// Pins `challenge-attempt-failed.v1` and `instance-logins-blocked.v1`.
    @Test func layoutsArePinned() {
        let failed = EventCodec.encode(
            .challengeAttemptFailed(ChallengeAttemptFailed(id: C.c1, at: 0x0102, attemptsLeft: 2)))
        #expect(failed.tag == "challenge-attempt-failed.v1")
        #expect(failed.payload == [1, 2, 0, 0, 0, 0x43, 0x31, 2, 1, 0, 0, 0, 0, 0, 0, 2])
        let blocked = EventCodec.encode(
            .instanceLoginsBlocked(InstanceLoginsBlocked(at: 1, until: 2)))
        #expect(blocked.payload == [1, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0])
        let created = EventCodec.encode(C.examples[0]).payload
        // layout, id, operation, channel, address, body hash, group, combiAnd, at, expiry
        #expect(created.count == 1 + 6 + 1 + 1 + 4 + C.email.utf8.count + 32 + 6 + 1 + 8 + 8)
        #expect(created[7...8] == [1, 2])
    }

    static let invalid: [(String, Int, [UInt8], EventDecodingError.Reason)] = [
        ("id", 1, [0, 0, 0, 0], .invalidValue),  // empty id
        ("id", 5, [0x2F], .invalidValue),  // '/' in an id
        ("operation", 7, [6], .invalidValue),
        ("operation", 7, [0], .invalidValue),
        ("channel", 8, [3], .invalidValue),
        ("combiAnd", 51 + C.email.utf8.count, [2], .invalidValue),
    ]

    @Test("invalid challenge fields are named", arguments: invalid)
    func invalidFields(
        field: String, offset: Int, patch: [UInt8], reason: EventDecodingError.Reason
    ) {
        var payload = EventCodec.encode(C.examples[0]).payload
        payload.replaceSubrange(offset..<(offset + patch.count), with: patch)
        do {
            _ = try EventCodec.decode(tag: "challenge-created.v1", payload: payload)
            Issue.record("decoded an invalid \(field)")
        } catch {
            #expect(error.field == field)
            #expect(error.reason == reason)
        }
    }

    @Test func idsAreCheckedAndMadeFromRandomBytes() {
        #expect(ChallengeID("") == nil)
        #expect(ChallengeID(String(repeating: "a", count: 65)) == nil)
        #expect(ChallengeID("a b") == nil)
        #expect(ChallengeID("ä") == nil)
        #expect(ChallengeID(String(repeating: "a", count: 64)) != nil)
        let id = ChallengeID(randomBytes: Array(repeating: 0xFF, count: 16))
        #expect(id?.rawValue.count == 26)
        #expect(ChallengeID(randomBytes: []) == nil)
        #expect(TANHash(bytes: [1]) == nil)
        #expect(RequestBodyHash(bytes: Array(repeating: 0, count: 33)) == nil)
    }

    static func story() throws -> ChallengeStory {
        var story = ChallengeStory()
        try story.run(C.create(ids: [.email: C.c1, .sms: C.c2], combiAnd: true), at: F.t0)
        try story.run(C.transmit(), at: F.t0)
        try story.run(C.confirm(tan: C.wrongTAN), at: F.t0 + 1)
        try story.run(C.confirm(), at: F.t0 + 2)
        try story.run(C.create(.instanceDeletion, ids: [.email: C.c3]), at: F.t0 + 3)
        try story.run(.expireChallenges(ExpireChallenges()), at: F.t0 + 2 * F.hour)
        story.events.append(
            .instanceLoginsBlocked(InstanceLoginsBlocked(at: F.t0, until: F.t0 + F.day)))
        return story
    }

    static func server(_ events: [DomainEvent]) throws -> ServerState {
        var state = ServerState()
        for event in events { try state.apply(StoredEvent(instance: F.shop, event: event)) }
        return state
    }

    @Test func snapshotRoundTripWithChallenges() throws {
        let state = try Self.server(Self.story().events)
        #expect(state[F.shop]?.challenges.count == 3)
        SnapshotTests.expectRestored(try SnapshotTests.roundTripped(state), equals: state)
        // Every prefix of the story, too.
        let events = try Self.story().events
        for count in 0...events.count {
            let prefix = try Self.server(Array(events.prefix(count)))
            SnapshotTests.expectRestored(try SnapshotTests.roundTripped(prefix), equals: prefix)
        }
    }

    @Test func digestIsStableAndSeesEveryChallengeEvent() throws {
        let events = try Self.story().events
        #expect(try Self.server(events).digestBytes() == Self.server(events).digestBytes())
        var seen = Set<[UInt8]>()
        for count in 0...events.count {
            seen.insert(try Self.server(Array(events.prefix(count))).digestBytes())
        }
        #expect(seen.count == events.count + 1)
        // States without two-factor data keep the digest they had before it existed.
        let plain = try Self.server([C.created, F.issued(1, F.scope("all"))])
        #expect(!plain.digestBytes().contains(0xC7))
        #expect(plain.digestBytes().starts(with: Array("tallystick-state".utf8) + [1]))
    }

    @Test func truncatedChallengeSnapshotsThrow() throws {
        let bytes = try Self.server(Self.story().events).encodeSnapshot()
        for length in stride(from: 0, to: bytes.count, by: 1) {
            #expect(throws: SnapshotDecodingError.self) {
                try ServerState(snapshot: Array(bytes[..<length]))
            }
        }
    }
}
