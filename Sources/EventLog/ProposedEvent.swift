/// An event offered to ``EventStore/append(to:expecting:events:)``: the log stores the bytes as
/// they are and knows nothing of what they mean.
public struct ProposedEvent: Sendable, Equatable {
    /// Idempotency id, unique across the whole log.
    public var id: EventID
    /// Stored type tag with its own version, e.g. `token-issued.v1`: 1...255 bytes of
    /// printable ASCII. Never derived from a Swift type name, never changed once stored.
    public var type: String
    /// Payload bytes, at most ``RecordCodec/maximumPayloadSize``.
    public var payload: [UInt8]

    public init(id: EventID = .random(), type: String, payload: [UInt8]) {
        self.id = id
        self.type = type
        self.payload = payload
    }
}

/// Where one appended event landed.
public struct EventPosition: Sendable, Equatable {
    /// Global sequence number: gapless from 1, never reused.
    public var sequence: UInt64
    /// Version within the stream: gapless from 1.
    public var streamVersion: UInt64

    public init(sequence: UInt64, streamVersion: UInt64) {
        self.sequence = sequence
        self.streamVersion = streamVersion
    }
}

/// The answer to an append.
public struct AppendResult: Sendable, Equatable {
    public var stream: String
    /// One position per proposed event, in order.
    public var positions: [EventPosition]
    /// `true` when every event id was already in the log: nothing was written, and the
    /// positions are those of the original append.
    public var wasDuplicate: Bool

    public init(stream: String, positions: [EventPosition], wasDuplicate: Bool) {
        self.stream = stream
        self.positions = positions
        self.wasDuplicate = wasDuplicate
    }

    /// The stream's version after this append's events (for the next expected version).
    public var streamVersion: UInt64 { positions.last?.streamVersion ?? 0 }
    /// The global sequence of the last event.
    public var lastSequence: UInt64 { positions.last?.sequence ?? 0 }
}

/// The newest record of a log: its sequence (0 for an empty log) and hash.
public struct LogHead: Sendable, Equatable, CustomStringConvertible {
    public var sequence: UInt64
    public var hash: ChainHash
    /// Recorded time of the newest record (µs since the Unix epoch), 0 when empty.
    public var recordedAt: Int64

    public init(sequence: UInt64, hash: ChainHash, recordedAt: Int64) {
        self.sequence = sequence
        self.hash = hash
        self.recordedAt = recordedAt
    }

    public static let empty = LogHead(sequence: 0, hash: .zero, recordedAt: 0)

    public var description: String { "\(sequence) \(hash.hex)" }
}
