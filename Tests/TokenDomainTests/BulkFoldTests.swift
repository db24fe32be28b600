import Testing

@testable import TokenDomain

@Suite("Bulk fold with deferred token indexes")
struct BulkFoldTests {
    @Test(arguments: [UInt64(1), 2, 3, 4])
    func aBulkFoldEqualsAnEventByEventFold(_ seed: UInt64) throws {
        var random = SeededRandom(seed: seed)
        let (events, expected) = random.history(events: 600)
        var bulk = ServerState()
        bulk.deferTokenIndexes()
        for event in events { try bulk.apply(event) }
        try bulk.rebuildTokenIndexes()
        #expect(bulk == expected)
        // Every token is found by its hash again.
        for (id, instance) in expected.instances {
            for token in instance.tokens {
                #expect(bulk[id]?.token(hash: token.hash)?.serial == token.serial)
            }
        }
    }

    @Test func aDuplicateHashIsFoundWhenTheIndexIsRebuilt() throws {
        var state = ServerState()
        state.deferTokenIndexes()
        try state.apply(StoredEvent(instance: Fixture.shop, event: Fixture.created()))
        try state.apply(
            StoredEvent(instance: Fixture.shop, event: Fixture.issued(1, Fixture.scope("all"))))
        var duplicate = Fixture.issued(2, Fixture.scope("all"))
        if case .tokenIssued(var issued) = duplicate {
            issued.hash = Fixture.hash(1)
            duplicate = .tokenIssued(issued)
        }
        try state.apply(StoredEvent(instance: Fixture.shop, event: duplicate))
        #expect(throws: FoldError.self) { try state.rebuildTokenIndexes() }
    }
}
