import Testing

@testable import TokenDomain

@Suite("TokenHashIndex: the hash → position table")
struct TokenHashIndexTests {
    /// A hash with chosen words, to force collisions of slot (`w0`) and tag (`w1` high bits).
    static func hash(_ w0: UInt64, _ w1: UInt64, _ w2: UInt64, _ w3: UInt64) -> TokenHash {
        withUnsafeBytes(of: (w0.bigEndian, w1.bigEndian, w2.bigEndian, w3.bigEndian)) {
            TokenHash(unchecked: $0)
        }
    }

    static func record(_ hash: TokenHash, serial: Int) -> TokenRecord {
        TokenRecord(
            issued: TokenIssued(
                serial: TokenSerial(UInt64(serial)), hash: hash, scope: .readonly,
                refreshable: false,
                issuedAt: 0, expiry: .never, description: nil, origin: .password(basic: true)))
    }

    @Test func collidingSlotsAndTagsStayDistinct() {
        // Same home slot and same tag; only the low words differ.
        let hashes =
            (0..<200).map { Self.hash(42, 0xABCD_0000_0000_0000 | UInt64($0), UInt64($0), 7) }
            + (0..<200).map { Self.hash(42 + UInt64($0) * 1024, 5, 6, UInt64($0)) }
        var records = TokenTable()
        var index = TokenHashIndex()
        for (position, hash) in hashes.enumerated() {
            records.append(Self.record(hash, serial: position + 1))
            let inserted = index.insert(position: position, of: records)
            #expect(inserted)
        }
        #expect(index.count == hashes.count)
        for (position, hash) in hashes.enumerated() {
            #expect(index.position(of: hash, in: records) == position)
        }
        #expect(
            index.position(of: Self.hash(42, 0xABCD_0000_0000_0000, 999, 7), in: records) == nil)
        #expect(index.position(of: Self.hash(0, 0, 0, 0), in: records) == nil)
        // A second record with an indexed hash is refused.
        records.append(Self.record(hashes[17], serial: records.count + 1))
        let insertedAgain = index.insert(position: records.count - 1, of: records)
        #expect(!insertedAgain)
        #expect(index.count == hashes.count)
    }

    @Test func growsAndReserves() {
        var random = SeededRandom(seed: 11)
        var records = TokenTable()
        var index = TokenHashIndex()
        index.reserveCapacity(100, records: records)
        #expect(index.slotBytes == 256 * 8)
        for position in 0..<5000 {
            records.append(Self.record(random.tokenHash(), serial: position + 1))
            let inserted = index.insert(position: position, of: records)
            #expect(inserted)
            #expect(index.slotBytes * 3 >= (position + 1) * 8 * 4)
        }
        for (position, record) in records.enumerated() {
            #expect(index.position(of: record.hash, in: records) == position)
        }
        #expect(index.position(of: random.tokenHash(), in: records) == nil)
    }

    @Test func buildIndexesEveryRecordOnceSized() {
        var random = SeededRandom(seed: 12)
        // Random hashes, then a run sharing one home slot and tag across group boundaries.
        let hashes =
            (0..<3000).map { _ in random.tokenHash() }
            + (0..<40).map { Self.hash(42, 0xABCD_0000_0000_0000, UInt64($0), 7) }
        let records = TokenTable(hashes.enumerated().map { Self.record($1, serial: $0 + 1) })
        var index = TokenHashIndex()
        #expect(index.build(from: records) == nil)
        #expect(index.count == records.count)
        #expect(index.slotBytes == 4096 * 8)
        for (position, hash) in hashes.enumerated() {
            #expect(index.position(of: hash, in: records) == position)
        }
        #expect(index.position(of: random.tokenHash(), in: records) == nil)
        var empty = TokenHashIndex()
        #expect(empty.build(from: TokenTable()) == nil)
        #expect(empty.position(of: hashes[0], in: TokenTable()) == nil)
    }

    @Test("build reports the first duplicate", arguments: [1, 15, 16, 17, 3039])
    func buildFindsDuplicates(position: Int) {
        var random = SeededRandom(seed: 13)
        var hashes = (0..<3040).map { _ in random.tokenHash() }
        hashes[position] = hashes[position - 1]
        if position + 5 < hashes.count { hashes[position + 5] = hashes[0] }
        let records = TokenTable(hashes.enumerated().map { Self.record($1, serial: $0 + 1) })
        var index = TokenHashIndex()
        #expect(index.build(from: records) == position)
    }
}
