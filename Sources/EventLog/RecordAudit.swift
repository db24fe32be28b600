/// The checks `verify` makes on each record besides the hash chain, the same for every store:
/// recorded times never go back, the type tag is printable ASCII, and each stream's versions
/// run 1, 2, 3… in sequence order.
public struct RecordAudit: Sendable {
    private var lastTime = Int64.min
    /// Each stream's newest record audited so far (LMDB's verify compares them with its index).
    private(set) var heads: [String: StreamHead] = [:]

    public init() {}

    /// Streams seen so far.
    public var streams: Int { heads.count }

    /// Checks `record` against the records audited before it: `nil` when it fits, else what
    /// is wrong. `previousInStream` is then the sequence of its stream's record before it (0
    /// for the first).
    public mutating func admit(_ record: RecordView, previousInStream: inout UInt64) -> String? {
        guard record.recordedAt >= lastTime else { return "recorded time goes back" }
        guard record.type.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
            return "type tag is not printable ASCII"
        }
        let stream = record.streamString
        let before = heads[stream] ?? .none
        guard record.streamVersion == before.version + 1 else {
            return
                "stream '\(stream)' version \(record.streamVersion), expected \(before.version + 1)"
        }
        heads[stream] = StreamHead(version: record.streamVersion, sequence: record.sequence)
        lastTime = record.recordedAt
        previousInStream = before.sequence
        return nil
    }
}
