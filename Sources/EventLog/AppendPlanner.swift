/// The checks every append makes before anything is written, shared by all stores so they
/// cannot disagree: batch shape, idempotent repeats, expected version.
public enum AppendPlanner {
    /// Where an event id already in the log landed.
    public struct Existing {
        public var stream: String
        public var position: EventPosition
        public init(stream: String, position: EventPosition) {
            self.stream = stream
            self.position = position
        }
    }

    public enum Plan {
        /// Write the batch; the stream is now at `currentVersion`.
        case write(currentVersion: UInt64)
        /// Every id is already in the log: answer with the original positions.
        case duplicate(AppendResult)
        case reject(EventLogError)
    }

    /// Most events in one append.
    static let maximumBatch = 10_000

    /// - Parameter validated: the caller already ran ``validate(stream:events:)`` on this
    ///   append (the durable log does so before queueing it for its writer).
    public static func plan(
        stream: String, expecting: ExpectedVersion, events: [ProposedEvent],
        validated: Bool = false,
        existing: (EventID) throws -> Existing?, currentVersion: () throws -> UInt64
    ) rethrows -> Plan {
        if !validated, let why = validate(stream: stream, events: events) {
            return .reject(.invalidEvent(why))
        }
        var found = [EventPosition]()
        for event in events {
            guard let hit = try existing(event.id) else { continue }
            guard hit.stream == stream else {
                return .reject(
                    .idempotencyConflict(id: event.id, reason: "already used in another stream"))
            }
            found.append(hit.position)
        }
        if found.count == events.count {
            return .duplicate(AppendResult(stream: stream, positions: found, wasDuplicate: true))
        }
        if !found.isEmpty {
            let first = events.first { _ in true }!.id
            return .reject(
                .idempotencyConflict(
                    id: first,
                    reason:
                        "\(found.count) of the batch's \(events.count) ids are already in the log"))
        }
        let current = try currentVersion()
        guard expecting.admits(current) else {
            return .reject(
                .wrongExpectedVersion(stream: stream, expected: expecting, actual: current))
        }
        return .write(currentVersion: current)
    }

    /// Why an append has the wrong shape (stream id, type tags, sizes, repeated ids), or `nil`.
    public static func validate(stream: String, events: [ProposedEvent]) -> String? {
        if let why = RecordCodec.validate(stream: stream) { return why }
        if events.isEmpty { return "an append needs at least one event" }
        if events.count > maximumBatch { return "at most \(maximumBatch) events per append" }
        // One event (the common append) cannot repeat an id: no set to build.
        var ids = Set<EventID>(minimumCapacity: events.count > 1 ? events.count : 0)
        for event in events {
            if let why = RecordCodec.validate(type: event.type) { return why }
            if event.payload.count > RecordCodec.maximumPayloadSize {
                return
                    "payload of \(event.payload.count) bytes exceeds \(RecordCodec.maximumPayloadSize)"
            }
            if events.count > 1, !ids.insert(event.id).inserted {
                return "event id \(event.id) appears twice in one append"
            }
        }
        return nil
    }
}
