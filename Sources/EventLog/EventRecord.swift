/// One stored event with its envelope, copied out of storage.
public struct EventRecord: Sendable, Equatable {
    /// Envelope format version (``RecordCodec/formatVersion``).
    public var formatVersion: UInt8
    public var sequence: UInt64
    public var stream: String
    public var streamVersion: UInt64
    public var eventID: EventID
    /// Versioned type tag, e.g. `token-issued.v1`.
    public var type: String
    /// When the log recorded it: µs since the Unix epoch, from the log's clock.
    public var recordedAt: Int64
    public var payload: [UInt8]
    public var previousHash: ChainHash
    public var hash: ChainHash

    public init(
        formatVersion: UInt8, sequence: UInt64, stream: String, streamVersion: UInt64,
        eventID: EventID,
        type: String, recordedAt: Int64, payload: [UInt8], previousHash: ChainHash, hash: ChainHash
    ) {
        self.formatVersion = formatVersion
        self.sequence = sequence
        self.stream = stream
        self.streamVersion = streamVersion
        self.eventID = eventID
        self.type = type
        self.recordedAt = recordedAt
        self.payload = payload
        self.previousHash = previousHash
        self.hash = hash
    }
}

/// A stored record read in place: every buffer points into storage and is valid only inside
/// the closure it was passed to. The fast path for replay (no allocation per record).
public struct RecordView {
    public let formatVersion: UInt8
    public let sequence: UInt64
    public let streamVersion: UInt64
    public let recordedAt: Int64
    public let eventID: EventID
    /// Type tag bytes (ASCII).
    public let type: UnsafeRawBufferPointer
    /// Stream id bytes (UTF-8).
    public let stream: UnsafeRawBufferPointer
    public let payload: UnsafeRawBufferPointer
    public let previousHash: ChainHash
    public let hash: ChainHash
    /// The bytes the hash covers after the previous hash.
    public let canonical: UnsafeRawBufferPointer

    /// The type tag as a `String`.
    public var typeString: String { String(decoding: type, as: UTF8.self) }
    /// The stream id as a `String`.
    public var streamString: String { String(decoding: stream, as: UTF8.self) }

    /// Copies the record out of storage.
    public func copy() -> EventRecord {
        EventRecord(
            formatVersion: formatVersion, sequence: sequence, stream: streamString,
            streamVersion: streamVersion, eventID: eventID, type: typeString,
            recordedAt: recordedAt,
            payload: Array(payload), previousHash: previousHash, hash: hash)
    }
}

@available(*, unavailable)
extension RecordView: Sendable {}
