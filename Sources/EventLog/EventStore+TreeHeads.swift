/// Finding the signed tree heads recorded in a log (stream ``SignedTreeHead/stream``) and
/// building the proofs against them that ``InclusionProof`` and ``ConsistencyProof`` carry.
///
/// Heads are recorded in increasing tree size (each sealer appends with the stream's
/// version it read, so of two servers sealing at once only one records its head, and the
/// next head is signed after the previous one was recorded), and the head of size *n* is
/// recorded after record *n*, usually as record *n* + 1: ``signedTreeHead(size:)`` reads
/// forward from there instead of reading the whole stream.
extension EventStore {
    /// The newest signed tree head, `nil` when none was recorded.
    /// - Throws: ``EventLogError``; `corruptedRecord` for a head that does not decode.
    public func newestSignedTreeHead() async throws -> SignedTreeHead? {
        let version = try await streamVersion(SignedTreeHead.stream)
        guard version > 0,
            let record = try await readStream(SignedTreeHead.stream, from: version).first
        else { return nil }
        return try Self.treeHead(in: record)
    }

    /// Every signed tree head, oldest first.
    public func signedTreeHeads() async throws -> [SignedTreeHead] {
        try await readStream(SignedTreeHead.stream, from: 1).map { try Self.treeHead(in: $0) }
    }

    /// The signed head of the tree of exactly `size` records, `nil` when none was signed.
    public func signedTreeHead(size: UInt64) async throws -> SignedTreeHead? {
        var next = size + 1
        while true {
            let page = try await read(from: next, limit: 256)
            guard let last = page.last else { return nil }
            for record in page where record.stream == SignedTreeHead.stream {
                let head = try Self.treeHead(in: record)
                if head.treeSize == size { return head }
                if head.treeSize > size { return nil }
            }
            next = last.sequence + 1
        }
    }

    /// A self-contained proof of the record of `sequence` against the signed head of size
    /// `treeSize` (default: the newest head).
    /// - Throws: ``EventLogError/invalidEvent(_:)`` when there is no such head or the record
    ///   is not in its tree; what reading the log throws.
    public func inclusionProof(sequence: UInt64, treeSize: UInt64? = nil) async throws
        -> InclusionProof
    {
        let head = try await requiredHead(size: treeSize)
        guard sequence >= 1, sequence <= head.treeSize else {
            throw EventLogError.invalidEvent(
                "sequence \(sequence) is not in the signed tree of size \(head.treeSize)")
        }
        guard let record = try await read(from: sequence, limit: 1).first,
            record.sequence == sequence
        else {
            throw EventLogError.corruptedRecord(sequence: sequence, reason: "record missing")
        }
        let path = try await auditPath(sequence: sequence, treeSize: head.treeSize)
        return InclusionProof(
            record: InclusionProof.bytes(of: record), auditPath: path, treeHead: head)
    }

    /// A self-contained proof that the signed head of size `second` extends the one of size
    /// `first`.
    /// - Throws: ``EventLogError/invalidEvent(_:)`` when either head was not signed or
    ///   `first` > `second`.
    public func consistencyProof(first: UInt64, second: UInt64) async throws -> ConsistencyProof {
        guard first <= second else {
            throw EventLogError.invalidEvent(
                "the first tree size (\(first)) must not be larger than the second (\(second))")
        }
        let older = try await requiredHead(size: first)
        let newer = try await requiredHead(size: second)
        let path = try await consistencyPath(first: first, second: second)
        return ConsistencyProof(first: older, second: newer, proof: path)
    }

    private func requiredHead(size: UInt64?) async throws -> SignedTreeHead {
        if let size {
            guard let head = try await signedTreeHead(size: size) else {
                throw EventLogError.invalidEvent("no tree head of size \(size) was signed")
            }
            return head
        }
        guard let head = try await newestSignedTreeHead() else {
            throw EventLogError.invalidEvent("no tree head has been signed yet")
        }
        return head
    }

    private static func treeHead(in record: EventRecord) throws -> SignedTreeHead {
        guard let head = SignedTreeHead(record: record) else {
            throw EventLogError.corruptedRecord(
                sequence: record.sequence, reason: "signed tree head does not decode")
        }
        return head
    }
}
