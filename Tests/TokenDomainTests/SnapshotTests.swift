import Testing

@testable import TokenDomain

@Suite("State snapshots: encode, decode, round trip")
struct SnapshotTests {
    typealias F = Fixture

    static func roundTripped(_ state: ServerState) throws -> ServerState {
        try ServerState(snapshot: state.encodeSnapshot())
    }

    /// Equal states, equal digests, equal bytes again, and every token found by its hash
    /// (the index is rebuilt, and `==` does not compare it).
    static func expectRestored(_ restored: ServerState, equals state: ServerState) {
        #expect(restored == state)
        #expect(restored.digestBytes() == state.digestBytes())
        #expect(restored.encodeSnapshot() == state.encodeSnapshot())
        for (id, instance) in restored.instances {
            #expect(instance.nextSerial == state[id]?.nextSerial)
            for token in instance.tokens {
                #expect(instance.token(hash: token.hash)?.serial == token.serial)
            }
        }
    }

    @Test func emptyState() throws {
        let bytes = ServerState().encodeSnapshot()
        #expect(bytes == [5, 0, 0, 0, 0, 0, 0, 0, 0])
        #expect(try ServerState(snapshot: bytes) == ServerState())
    }

    @Test func digestHistoryRoundTrips() throws {
        let state = try DigestTests.folded(DigestTests.history())
        Self.expectRestored(try Self.roundTripped(state), equals: state)
    }

    @Test("random histories round trip exactly", arguments: [UInt64(1), 2, 3, 0xC0FFEE])
    func randomHistories(seed: UInt64) throws {
        var random = SeededRandom(seed: seed)
        var seen: Set<String> = []
        for round in 0..<20 {
            let (_, state) = random.history(
                events: Int.random(in: 0...400, using: &random),
                instances: Int.random(in: 1...SeededRandom.instancePool.count, using: &random))
            let restored = try Self.roundTripped(state)
            Self.expectRestored(restored, equals: state)
            #expect(restored == state, "seed \(seed) round \(round)")
            for instance in state.instances.values {
                if !instance.isActive { seen.insert("deleted") }
                if case .password = instance.auth { seen.insert("password") }
                if instance.credentialGeneration > 1 { seen.insert("generation") }
                for token in instance.tokens {
                    if token.revokedAt != nil { seen.insert("revoked") }
                    if token.description != nil { seen.insert("description") }
                    if case .token = token.origin { seen.insert("refreshed") }
                    if token.expiry == .never { seen.insert("never") }
                }
            }
        }
        #expect(
            seen == [
                "deleted", "password", "generation", "revoked", "description", "refreshed",
                "never",
            ], "seed \(seed)")
    }

    @Test("decider-driven histories round trip", arguments: PropertyTests.seeds)
    func simulatedHistories(seed: UInt64) throws {
        var simulation = Simulation(seed: seed)
        try simulation.run(steps: 1500)
        Self.expectRestored(try Self.roundTripped(simulation.state), equals: simulation.state)
    }

    /// The checkpoint's use: snapshot at some position, decode, fold only the tail; the
    /// result is the state folded from the whole log, and it goes on deciding the same.
    @Test("snapshot + tail = whole fold", arguments: [UInt64(5), 6, 7])
    func snapshotThenTail(seed: UInt64) throws {
        var random = SeededRandom(seed: seed)
        let (events, whole) = random.history(events: 600)
        for _ in 0..<10 {
            let position = Int.random(in: 0...events.count, using: &random)
            var head = ServerState()
            for event in events[..<position] { try head.apply(event) }
            var restored = try Self.roundTripped(head)
            for event in events[position...] { try restored.apply(event) }
            Self.expectRestored(restored, equals: whole)
        }
    }

    @Test func everyFieldTheFoldCannotSetRoundTrips() throws {
        var state = try DigestTests.folded(DigestTests.history())
        var instances = state.instances
        instances[F.shop]!.emailValidated = true
        instances[F.other]!.phoneValidated = true
        state = ServerState(instances: instances)
        let restored = try Self.roundTripped(state)
        Self.expectRestored(restored, equals: state)
        #expect(restored[F.shop]?.emailValidated == true)
        #expect(restored[F.shop]?.phoneValidated == false)
        #expect(restored[F.other]?.phoneValidated == true)
    }

    @Test func restoredStateKeepsFoldingRules() throws {
        var state = try Self.roundTripped(try DigestTests.folded(DigestTests.history()))
        let duplicate = DomainEvent.tokenIssued(
            TokenIssued(
                serial: TokenSerial(3), hash: F.hash(2), scope: .all, refreshable: false,
                issuedAt: F.t0, expiry: .never, description: nil, origin: .password(basic: true)))
        #expect(
            throws: FoldError(
                instance: F.shop, tag: .tokenIssued, problem: .duplicateTokenHash(TokenSerial(3)))
        ) {
            try state.apply(StoredEvent(instance: F.shop, event: duplicate))
        }
        #expect(
            throws: FoldError(
                instance: F.shop, tag: .tokenIssued,
                problem: .serialOutOfSequence(expected: TokenSerial(3), found: TokenSerial(4)))
        ) {
            try state.apply(StoredEvent(instance: F.shop, event: F.issued(4, F.scope("all"))))
        }
        try state.apply(StoredEvent(instance: F.shop, event: F.issued(3, F.scope("all"))))
        #expect(state[F.shop]?.token(hash: F.hash(3))?.serial == TokenSerial(3))
    }

    // MARK: in parts

    /// An instance of `count` tokens, every third revoked.
    static func instance(tokens count: Int) throws -> InstanceState {
        var state = ServerState()
        try state.apply(StoredEvent(instance: F.shop, event: F.created()))
        for serial in stride(from: UInt64(1), through: UInt64(count), by: 1) {
            try state.apply(StoredEvent(instance: F.shop, event: F.issued(serial, F.scope("all"))))
            if serial % 3 == 0 {
                try state.apply(
                    StoredEvent(
                        instance: F.shop,
                        event: .tokenRevoked(
                            TokenRevoked(serial: TokenSerial(serial), at: 9, reason: .selfRevoked)
                        )))
            }
        }
        return try #require(state[F.shop])
    }

    /// Decodes an instance from a head and chunk parts.
    static func decoded(head: [UInt8], chunks: [[UInt8]]) throws(SnapshotDecodingError)
        -> InstanceState
    {
        var joined = head
        var ranges = [0..<head.count]
        for chunk in chunks {
            ranges.append(joined.count..<joined.count + chunk.count)
            joined += chunk
        }
        let result = joined.withUnsafeBytes { all in
            Result { () throws(SnapshotDecodingError) in
                try InstanceState(
                    snapshotHead: UnsafeRawBufferPointer(rebasing: all[ranges[0]]),
                    chunks: ranges.dropFirst().map { UnsafeRawBufferPointer(rebasing: all[$0]) })
            }
        }
        return try result.get()
    }

    @Test("an instance in parts round trips", arguments: [0, 1, 4096, 4097, 9000])
    func partsRoundTrip(tokens: Int) throws {
        let instance = try Self.instance(tokens: tokens)
        let chunks = instance.tokens.chunks.map(InstanceState.encodeSnapshotChunk)
        #expect(chunks.count == InstanceState.snapshotChunkCount(tokens: tokens))
        let restored = try Self.decoded(head: instance.encodeSnapshotHead(), chunks: chunks)
        #expect(restored == instance)
        for token in restored.tokens {
            #expect(restored.token(hash: token.hash)?.serial == token.serial)
        }
        // Parts are the whole snapshot's bytes, cut apart: one encoding of an instance.
        let snapshot = ServerState(instances: [F.shop: instance]).encodeSnapshot()
        #expect(
            Array(snapshot[9...]) == Array(instance.encodeSnapshotHead().dropFirst())
                + chunks.flatMap { $0 })
    }

    @Test func partsMustMatchTheTokenCount() throws {
        let instance = try Self.instance(tokens: 4097)
        let chunks = instance.tokens.chunks.map(InstanceState.encodeSnapshotChunk)
        let head = instance.encodeSnapshotHead()
        #expect(throws: SnapshotDecodingError.self) {
            try Self.decoded(head: head, chunks: [chunks[0]])
        }
        #expect(throws: SnapshotDecodingError.self) {
            try Self.decoded(head: head, chunks: chunks + [chunks[1]])
        }
        // A chunk with one record too many, or one too few.
        #expect(
            throws: SnapshotDecodingError(
                field: "end", offset: chunks[1].count, reason: .trailingBytes(chunks[1].count))
        ) {
            try Self.decoded(head: head, chunks: [chunks[0], chunks[1] + chunks[1]])
        }
        #expect(throws: SnapshotDecodingError.self) {
            try Self.decoded(head: head, chunks: [Array(chunks[0].dropLast(68)), chunks[1]])
        }
        var layout4 = head
        layout4[0] = 4
        #expect(
            throws: SnapshotDecodingError(
                field: "version", offset: 0, reason: .unsupportedLayoutVersion(4))
        ) {
            try Self.decoded(head: layout4, chunks: chunks)
        }
    }

    @Test func aDuplicateHashInALaterChunkIsFoundWhereItIs() throws {
        let instance = try Self.instance(tokens: 4100)
        var chunks = instance.tokens.chunks.map(InstanceState.encodeSnapshotChunk)
        // Token 4099 (the third of chunk 2) gets token 2's hash.
        let hashTwo = Array(instance.tokens[1].hash.bytes)
        let offset = try #require(chunks[1].firstRange(of: Array(instance.tokens[4098].hash.bytes)))
            .lowerBound
        chunks[1].replaceSubrange(offset..<offset + 32, with: hashTwo)
        #expect(
            throws: SnapshotDecodingError(
                field: "token.hash", offset: offset, reason: .invalidValue)
        ) {
            try Self.decoded(head: instance.encodeSnapshotHead(), chunks: chunks)
        }
    }

    // MARK: layout

    static func pinnedState() throws -> ServerState {
        let id = InstanceID("ab")!
        let events: [DomainEvent] = [
            .instanceCreated(
                InstanceCreated(
                    at: 0x10, name: "N", auth: .external, email: "e", phoneNumber: nil,
                    details: [7])),
            .tokenIssued(
                TokenIssued(
                    serial: TokenSerial(1), hash: TokenHash(bytes: Array(0..<32))!,
                    scope: .orderPos, refreshable: true, issuedAt: 0x20, expiry: .never,
                    description: "d", origin: .password(basic: true))),
            .tokenRevoked(TokenRevoked(serial: TokenSerial(1), at: 0x30, reason: .selfRevoked)),
            .instanceDeleted(InstanceDeleted(at: 0x40)),
        ]
        var state = ServerState()
        for event in events { try state.apply(StoredEvent(instance: id, event: event)) }
        return state
    }

    /// Pins layout 5 (see `EVENTS.md`): a change here needs a new layout version.
    @Test func layoutIsPinned() throws {
        var expected: [UInt8] = [5, 1, 0, 0, 0, 0, 0, 0, 0]
        expected += [2, 0, 0, 0, 0x61, 0x62]  // id
        expected += [0x10, 0, 0, 0, 0, 0, 0, 0]  // createdAt
        expected += [1, 0, 0, 0, 0x4E]  // name
        expected += [0]  // auth: external
        expected += [1, 0, 0, 0, 0, 0, 0, 0]  // credential generation
        expected += [1, 1, 0, 0, 0, 0x65, 0]  // email, phone number
        expected += [0]  // validated flags
        expected += [1, 0, 0, 0, 7]  // details
        expected += [1, 0x40, 0, 0, 0, 0, 0, 0, 0]  // deleted at
        expected += [1, 0, 0, 0, 0, 0, 0, 0]  // token count
        expected += [0, 0, 0, 0, 0, 0, 0, 0]  // challenge count
        expected += [0, 0, 0, 0]  // failed confirmations in a row
        expected += [0, 0, 0, 0, 0, 0, 0, 0, 0]  // no login block
        expected += [0]  // no backend credential
        expected += Array(0..<32)  // hash
        expected += [5, 3]  // scope, flags: refreshable | revoked
        expected += [0x20, 0, 0, 0, 0, 0, 0, 0]  // createdAt
        expected += [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]  // expiry: never
        expected += [1, 0, 0, 0, 0, 0, 0, 0, 0]  // origin: password/basic
        expected += [0x30, 0, 0, 0, 0, 0, 0, 0]  // revokedAt
        expected += [1, 1, 0, 0, 0, 0x64]  // description
        #expect(try Self.pinnedState().encodeSnapshot() == expected)
    }

    // MARK: malformed input

    /// (field, bytes to write, offset, reason) on the pinned snapshot.
    static let invalid: [(String, [UInt8], Int, SnapshotDecodingError.Reason)] = [
        ("version", [1], 0, .unsupportedLayoutVersion(1)),
        ("version", [2], 0, .unsupportedLayoutVersion(2)),
        ("version", [3], 0, .unsupportedLayoutVersion(3)),
        ("version", [4], 0, .unsupportedLayoutVersion(4)),
        ("instanceCount", [3], 1, .truncated),
        ("instanceCount", [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF], 1, .truncated),
        ("id", [0x2D], 13, .invalidValue),
        ("id", [0xC3], 13, .invalidUTF8),
        ("auth.method", [2], 28, .invalidValue),
        ("credentialGeneration", [0], 29, .invalidValue),
        ("email", [2], 37, .invalidValue),
        ("validated", [4], 44, .invalidValue),
        ("lifecycle", [2], 50, .invalidValue),
        ("lifecycle", [0], 50, .invalidValue),
        ("tokenCount", [2], 59, .truncated),
        ("tokenCount", [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF], 59, .invalidValue),
        ("challengeCount", [2], 67, .truncated),
        ("loginsBlocked", [2], 79, .invalidValue),
        ("loginsBlocked", [0, 1], 79, .invalidValue),
        ("backendCredential", [2], 88, .invalidValue),
        ("token.scope", [0], 121, .invalidValue),
        ("token.flags", [4], 122, .invalidValue),
        ("origin", [2], 139, .invalidValue),
        ("token.description", [2], 156, .invalidValue),
        ("end", [0], 162, .trailingBytes(1)),
    ]

    @Test func pinnedOffsets() throws {
        #expect(try Self.pinnedState().encodeSnapshot().count == 162)
    }

    @Test("invalid values are named", arguments: invalid)
    func invalidValues(
        field: String, patch: [UInt8], at offset: Int, reason: SnapshotDecodingError.Reason
    ) throws {
        var bytes = try Self.pinnedState().encodeSnapshot()
        let end = min(offset + patch.count, bytes.count)
        bytes.replaceSubrange(offset..<end, with: patch)
        do {
            _ = try ServerState(snapshot: bytes)
            Issue.record("decoded an invalid \(field)")
        } catch {
            #expect(error.field == field)
            #expect(error.reason == reason)
            #expect(!error.description.isEmpty)
        }
    }

    @Test func revocationTimeWithoutRevokedFlagIsInvalid() throws {
        var bytes = try Self.pinnedState().encodeSnapshot()
        bytes[122] = 1  // flags: refreshable, not revoked; revokedAt stays 0x30
        #expect(
            throws: SnapshotDecodingError(
                field: "token.revokedAt", offset: 148, reason: .invalidValue)
        ) {
            try ServerState(snapshot: bytes)
        }
    }

    @Test func instancesMustBeInAscendingIdOrder() throws {
        let one = try Self.pinnedState().encodeSnapshot()
        // Two copies of the same instance: the second id is not greater than the first.
        var twice = one
        twice[1] = 2
        twice += one[9...]
        #expect(
            throws: SnapshotDecodingError(field: "id", offset: one.count, reason: .invalidValue)
        ) {
            try ServerState(snapshot: twice)
        }
    }

    @Test func duplicateTokenHashIsInvalid() throws {
        var state = ServerState()
        try state.apply(StoredEvent(instance: F.shop, event: F.created()))
        for serial in UInt64(1)...2 {
            try state.apply(StoredEvent(instance: F.shop, event: F.issued(serial, F.scope("all"))))
        }
        var bytes = state.encodeSnapshot()
        let hashOne = Array(F.hash(1).bytes)
        let first = try #require(bytes.firstRange(of: hashOne)).lowerBound
        let second = try #require(bytes.firstRange(of: Array(F.hash(2).bytes))).lowerBound
        bytes.replaceSubrange(second..<(second + 32), with: hashOne)
        #expect(first < second)
        #expect(
            throws: SnapshotDecodingError(
                field: "token.hash", offset: second, reason: .invalidValue)
        ) {
            try ServerState(snapshot: bytes)
        }
    }

    @Test func everyTruncationThrows() throws {
        var random = SeededRandom(seed: 11)
        var snapshots = [try Self.pinnedState().encodeSnapshot()]
        for _ in 0..<3 { snapshots.append(random.history(events: 40).state.encodeSnapshot()) }
        for bytes in snapshots {
            for length in 0..<bytes.count {
                #expect(throws: SnapshotDecodingError.self) {
                    try ServerState(snapshot: Array(bytes[..<length]))
                }
            }
        }
    }

    /// Random bytes, bit flips and splices: decoding either throws or yields a state that
    /// encodes back to exactly the same bytes (one byte form per state).
    @Test func fuzz() throws {
        var random = SeededRandom(seed: 0x5AA9)
        var valid = [try Self.pinnedState().encodeSnapshot()]
        for _ in 0..<6 { valid.append(random.history(events: 30).state.encodeSnapshot()) }
        var decoded = 0
        for round in 0..<6000 {
            var bytes: [UInt8]
            switch round % 3 {
            case 0:
                bytes = random.bytes(Int.random(in: 0...200, using: &random))
                if random.chance(0.7), !bytes.isEmpty { bytes[0] = 1 }
            case 1:
                bytes = valid.randomElement(using: &random)!
                for _ in 0...Int.random(in: 0...3, using: &random) where !bytes.isEmpty {
                    let index = Int.random(in: 0..<bytes.count, using: &random)
                    bytes[index] ^= UInt8(1) << UInt8.random(in: 0...7, using: &random)
                }
            default:
                let a = valid.randomElement(using: &random)!
                let b = valid.randomElement(using: &random)!
                bytes =
                    Array(a.prefix(Int.random(in: 0...a.count, using: &random)))
                    + Array(b.suffix(Int.random(in: 0...b.count, using: &random)))
            }
            do {
                let state = try ServerState(snapshot: bytes)
                #expect(state.encodeSnapshot() == bytes, "round \(round)")
                decoded += 1
            } catch {
                #expect(!error.description.isEmpty)
            }
        }
        #expect(decoded > 0)
    }
}
