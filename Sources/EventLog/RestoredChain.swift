/// The checks every store's restore makes on the records of a dump being loaded, in order:
/// each follows the one before it (sequence + 1, previous hash = its hash, recorded time
/// never going back), has a valid stream id, type tag and payload, the next version of its
/// stream, and a hash that is the SHA-256 of its contents. A restored log is thus exactly as
/// sound as the chain it was given, whichever store it is written to.
public struct RestoredChain: Sendable {
    /// One record admitted: its stored bytes, and where its stream was before it.
    public struct Admitted: Sendable {
        public var record: EventRecord
        /// The record's bytes (``RecordCodec``), as every store keeps them.
        public var bytes: [UInt8]
        /// The sequence of the stream's record before this one (0 for its first).
        public var previousInStream: UInt64
    }

    /// The last record admitted (``LogHead/empty`` before the first).
    public private(set) var head = LogHead.empty
    /// Each stream's newest record admitted so far.
    private(set) var streams: [String: StreamHead] = [:]

    public init() {}

    /// Checks `record` against the records admitted before it.
    /// - Throws: ``EventLogError/invalidEvent(_:)`` naming the record and what does not fit.
    public mutating func admit(_ record: EventRecord) throws(EventLogError) -> Admitted {
        let expected = head.sequence + 1
        guard record.sequence == expected else {
            throw .invalidEvent("record \(record.sequence) out of order (expected \(expected))")
        }
        guard record.previousHash == head.hash else {
            throw .invalidEvent("record \(record.sequence): previous hash does not chain")
        }
        guard record.recordedAt >= head.recordedAt || head.sequence == 0 else {
            throw .invalidEvent("record \(record.sequence): recorded time goes back")
        }
        let proposed = ProposedEvent(id: record.eventID, type: record.type, payload: record.payload)
        if let why = AppendPlanner.validate(stream: record.stream, events: [proposed]) {
            throw .invalidEvent("record \(record.sequence): \(why)")
        }
        let before = streams[record.stream] ?? .none
        guard record.streamVersion == before.version + 1 else {
            throw .invalidEvent(
                "record \(record.sequence): stream version \(record.streamVersion), expected \(before.version + 1)"
            )
        }
        let (bytes, hash) = RecordCodec.encode(
            sequence: record.sequence, stream: record.stream, streamVersion: record.streamVersion,
            recordedAt: record.recordedAt, event: proposed, previousHash: record.previousHash)
        guard hash == record.hash else {
            throw .invalidEvent("record \(record.sequence): hash does not match its contents")
        }
        streams[record.stream] = StreamHead(
            version: record.streamVersion, sequence: record.sequence)
        head = LogHead(sequence: record.sequence, hash: record.hash, recordedAt: record.recordedAt)
        return Admitted(record: record, bytes: bytes, previousInStream: before.sequence)
    }
}
