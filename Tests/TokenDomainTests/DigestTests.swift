import Testing

@testable import TokenDomain

@Suite("State digest")
struct DigestTests {
    typealias F = Fixture

    static func history() -> [StoredEvent] {
        let shop = [
            F.created(email: "a@b.c"),
            F.issued(1, F.scope("all:refreshable")),
            F.issued(
                2, F.scope("order-pos"), origin: .token(parent: TokenSerial(1)),
                description: "a longer description"),
            F.revoked(1, at: F.t0 + 5),
        ].map { StoredEvent(instance: F.shop, event: $0) }
        let other = [
            F.created(name: "Other", auth: .external),
            F.issued(1, F.scope("readonly"), expiry: .never),
            .instanceDeleted(InstanceDeleted(at: F.t0 + 7)),
        ].map { StoredEvent(instance: F.other, event: $0) }
        return [shop[0], other[0], shop[1], other[1], shop[2], other[2], shop[3]]
    }

    static func folded(_ events: [StoredEvent]) throws -> ServerState {
        var state = ServerState()
        for event in events { try state.apply(event) }
        return state
    }

    @Test func sameEventsSameBytes() throws {
        let a = try Self.folded(Self.history())
        let b = try Self.folded(Self.history())
        #expect(a.digestBytes() == b.digestBytes())
        #expect(a.digestBytes().starts(with: Array("tallystick-state".utf8) + [1]))
    }

    @Test func interleavingOfStreamsDoesNotMatter() throws {
        let events = Self.history()
        let grouped =
            events.filter { $0.instance == F.shop } + events.filter { $0.instance == F.other }
        #expect(try Self.folded(events).digestBytes() == Self.folded(grouped).digestBytes())
    }

    @Test func everyEventChangesTheDigest() throws {
        let events = Self.history()
        var seen = Set<[UInt8]>()
        for count in 0...events.count {
            seen.insert(try Self.folded(Array(events.prefix(count))).digestBytes())
        }
        #expect(seen.count == events.count + 1)
    }

    @Test func largeStatesStreamInBoundedChunks() throws {
        var state = ServerState()
        try state.apply(StoredEvent(instance: F.shop, event: F.created()))
        for serial in UInt64(1)...5000 {
            try state.apply(
                StoredEvent(instance: F.shop, event: F.issued(serial, F.scope("readonly"))))
        }
        var sink = CollectingSink()
        state.digest(into: &sink)
        #expect(sink.chunkSizes.count > 1)
        #expect(sink.chunkSizes.allSatisfy { $0 <= (1 << 16) + 4096 })
        #expect(sink.bytes == state.digestBytes())
    }

    @Test func foldErrorsLeaveTheStateAsItWas() throws {
        var state = try Self.folded(Self.history())
        let before = state.digestBytes()
        let bad: [(DomainEvent, FoldError.Problem)] = [
            (F.created(), .instanceAlreadyExists),
            (
                F.issued(5, F.scope("all")),
                .serialOutOfSequence(expected: TokenSerial(3), found: TokenSerial(5))
            ),
            (
                .tokenIssued(
                    TokenIssued(
                        serial: TokenSerial(3), hash: F.hash(2), scope: .all, refreshable: false,
                        issuedAt: F.t0, expiry: .never, description: nil,
                        origin: .password(basic: true))),
                .duplicateTokenHash(TokenSerial(3))
            ),
            (F.revoked(1, at: F.t0 + 9), .tokenAlreadyRevoked(TokenSerial(1))),
            (F.revoked(9, at: F.t0 + 9), .tokenUnknown(TokenSerial(9))),
            (
                .instanceCredentialsChanged(
                    InstanceCredentialsChanged(at: F.t0, auth: .external, generation: 3)),
                .generationOutOfSequence(expected: 2, found: 3)
            ),
        ]
        for (event, problem) in bad {
            #expect(throws: FoldError(instance: F.shop, tag: event.tag, problem: problem)) {
                try state.apply(StoredEvent(instance: F.shop, event: event))
            }
        }
        let unknown = InstanceID("nobody")!
        #expect(throws: FoldError(instance: unknown, tag: .tokenRevoked, problem: .instanceUnknown))
        {
            try state.apply(StoredEvent(instance: unknown, event: F.revoked(1, at: 0)))
        }
        #expect(state.digestBytes() == before)
        #expect(state[F.shop]?.token(hash: F.hash(2))?.serial == TokenSerial(2))
    }
}
