/// Every token of an instance by serial (`table[serial - 1]`), kept in chunks of
/// ``chunkSize`` records.
///
/// Why chunks and not one array: the state is a value, and a checkpoint keeps a copy of it
/// while the server goes on folding events. With one array, the first token issued after
/// that copy duplicated the whole array (at 10M tokens about a gigabyte, with every request
/// waiting); with chunks it duplicates one chunk (≈ 420 KB), and a chunk no event touched
/// stays shared. The same sharing tells a checkpoint which chunks changed since the last one
/// (``sharesChunk(_:with:)``), so it writes those and names the others again.
///
/// Every chunk but the last is full. Reading a record is two array accesses (chunk, then
/// record), both with a shift or a mask.
public struct TokenTable: RandomAccessCollection, Sendable {
    /// log₂ of ``chunkSize``.
    static let chunkShift = 12
    /// Records per chunk: 4096 (≈ 420 KB in memory, ≈ 280 KB in a checkpoint).
    public static let chunkSize = 1 << chunkShift

    /// The chunks, each full but the last (which is never empty).
    public private(set) var chunks: [[TokenRecord]]
    public private(set) var count: Int

    public init() {
        chunks = []
        count = 0
    }

    /// A table of `records`, in order (position `i` should hold serial `i + 1`).
    public init(_ records: some Sequence<TokenRecord>) {
        self.init()
        for record in records { append(record) }
    }

    /// A table of `chunks`, which must each hold ``chunkSize`` records but the last (which must
    /// not be empty); `nil` when they do not.
    public init?(chunks: [[TokenRecord]]) {
        for (position, chunk) in chunks.enumerated() {
            let last = position == chunks.count - 1
            guard
                last
                    ? !chunk.isEmpty && chunk.count <= Self.chunkSize
                    : chunk.count == Self.chunkSize
            else { return nil }
        }
        self.chunks = chunks
        count = chunks.reduce(0) { $0 + $1.count }
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { count }

    public subscript(position: Int) -> TokenRecord {
        @inline(__always)
        get {
            precondition(position >= 0 && position < count, "token position out of range")
            return chunks[position &>> Self.chunkShift][position & (Self.chunkSize - 1)]
        }
        set {
            precondition(position >= 0 && position < count, "token position out of range")
            chunks[position &>> Self.chunkShift][position & (Self.chunkSize - 1)] = newValue
        }
    }

    /// Appends `record` at the end. A chunk grows by doubling up to ``chunkSize``; once a
    /// checkpoint holds a copy of the last chunk, the next append copies it (keeping its
    /// capacity), once.
    public mutating func append(_ record: TokenRecord) {
        if count & (Self.chunkSize - 1) == 0 {
            chunks.append([record])
        } else {
            chunks[chunks.count - 1].append(record)
        }
        count += 1
    }

    /// Removes the newest record (a fold that failed after appending it).
    mutating func removeLast() {
        precondition(count > 0, "removeLast of an empty token table")
        let last = chunks.count - 1
        chunks[last].removeLast()
        if chunks[last].isEmpty { chunks.removeLast() }
        count -= 1
    }

    /// Prepares room for `more` records beyond ``count``: the list of chunks only (each chunk
    /// gets its room when it starts).
    public mutating func reserveCapacity(_ more: Int) {
        chunks.reserveCapacity((count + more + Self.chunkSize - 1) / Self.chunkSize)
    }

    /// Whether chunk `index` of this table is the very storage of `other` (neither was
    /// changed since one was copied from the other). Holding `other` keeps its storage alive, so
    /// equal storage means equal records.
    public func sharesChunk(_ index: Int, with other: [TokenRecord]) -> Bool {
        chunks[index].withUnsafeBufferPointer { mine in
            other.withUnsafeBufferPointer { $0.baseAddress == mine.baseAddress }
        }
    }
}

extension TokenTable: Equatable {
    public static func == (lhs: TokenTable, rhs: TokenTable) -> Bool {
        lhs.count == rhs.count && lhs.chunks == rhs.chunks
    }
}
