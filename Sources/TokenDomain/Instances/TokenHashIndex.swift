/// The index from a token's hash to its position in the instance's token array: an
/// open-addressing hash table of 8-byte slots with linear probing.
///
/// Why not `[TokenHash: UInt32]`: a `Dictionary` bucket holds the 32-byte key again (36 bytes
/// per bucket, ≈ 75 bytes per token at a million tokens) and runs SipHash on every insert
/// and lookup; measured here it cost 350–860 ns per insert at a million tokens, too slow for
/// a fold of a million events a second. The keys are SHA-256 outputs of secrets the engine
/// generates, so their bits are already uniform: the slot is taken straight from the hash
/// (no seeded hasher needed; a client can pick lookup keys but cannot add keys), and each
/// slot stores only a 32-bit tag from other hash bits and the array position. A tag match is
/// confirmed against the record's full hash, so a lookup never returns a wrong token.
///
/// Slot: `tag << 32 | (position + 1)`; 0 is empty. The table doubles at 3/4 load, which
/// re-inserts from the token array in order (the table stores no keys). No deletion: tokens
/// are never removed from an instance (purge drops the whole instance).
struct TokenHashIndex: Sendable {
    private var slots: [UInt64] = []
    private(set) var count = 0
    /// The slots ``build(from:)`` loaded ahead, OR-ed together: stored only so that the
    /// optimiser keeps those loads. Means nothing.
    private var groupLoads: UInt64 = 0

    /// Position of the record whose hash is `hash`, if any.
    @inline(__always)
    func position(of hash: TokenHash, in records: TokenTable) -> Int? {
        guard !slots.isEmpty else { return nil }
        let mask = slots.count - 1
        let tag = Self.tag(hash)
        var slot = Self.home(hash) & mask
        while true {
            let entry = slots[slot]
            if entry == 0 { return nil }
            if entry >> 32 == tag {
                let position = Int(truncatingIfNeeded: entry & 0xFFFF_FFFF) - 1
                if records[position].hash == hash { return position }
            }
            slot = (slot + 1) & mask
        }
    }

    /// Indexes `records[position]` unless a record with the same hash is indexed already;
    /// returns whether it did. One probe sequence for the check and the insertion.
    mutating func insert(position: Int, of records: TokenTable) -> Bool {
        if (count + 1) * 4 > slots.count * 3 {
            grow(toHold: count + 1, records: records)
        }
        let hash = records[position].hash
        let mask = slots.count - 1
        let tag = Self.tag(hash)
        var slot = Self.home(hash) & mask
        while true {
            let entry = slots[slot]
            if entry == 0 { break }
            if entry >> 32 == tag,
                records[Int(truncatingIfNeeded: entry & 0xFFFF_FFFF) - 1].hash == hash
            {
                return false
            }
            slot = (slot + 1) & mask
        }
        slots[slot] = tag << 32 | UInt64(position + 1)
        count += 1
        return true
    }

    /// Indexes all of `records`, in order, into this empty index, sized once for them (a
    /// snapshot's tokens). Returns the position of the first record whose hash an earlier
    /// one has, or `nil`; after a duplicate the index is incomplete and must be discarded.
    ///
    /// At a million tokens the table is 16 MB, so inserting one hash after another waits on
    /// a cache and TLB miss per slot (≈ 190 ns, most of a snapshot's decoding time). Here
    /// each group of records first loads its home slots: loads that do not depend on each
    /// other, so the CPU overlaps their misses, and the inserts after them hit the cache.
    mutating func build(from records: TokenTable) -> Int? {
        precondition(count == 0, "build fills an empty index")
        reserveCapacity(records.count, records: records)
        let group = 16
        var touched: UInt64 = 0
        var start = 0
        while start < records.count {
            let end = min(start + group, records.count)
            let mask = slots.count - 1
            for position in start..<end {
                touched |= slots[Self.home(records[position].hash) & mask]
            }
            for position in start..<end where !insert(position: position, of: records) {
                return position
            }
            start = end
        }
        groupLoads = touched
        return nil
    }

    /// Makes room for `total` entries without further growth.
    mutating func reserveCapacity(_ total: Int, records: TokenTable) {
        if total * 4 > slots.count * 3 { grow(toHold: total, records: records) }
    }

    private mutating func grow(toHold total: Int, records: TokenTable) {
        var capacity = max(16, slots.count)
        while total * 4 > capacity * 3 { capacity *= 2 }
        slots = [UInt64](repeating: 0, count: capacity)
        for position in 0..<count {
            place(records[position].hash, position: position)
        }
    }

    @inline(__always)
    private mutating func place(_ hash: TokenHash, position: Int) {
        let mask = slots.count - 1
        var slot = Self.home(hash) & mask
        while slots[slot] != 0 { slot = (slot + 1) & mask }
        slots[slot] = Self.tag(hash) << 32 | UInt64(position + 1)
    }

    @inline(__always)
    private static func home(_ hash: TokenHash) -> Int { Int(truncatingIfNeeded: hash.w0) }

    @inline(__always)
    private static func tag(_ hash: TokenHash) -> UInt64 { hash.w1 >> 32 }

    /// Bytes of slot storage, for memory accounting.
    var slotBytes: Int { slots.count * MemoryLayout<UInt64>.stride }
}
