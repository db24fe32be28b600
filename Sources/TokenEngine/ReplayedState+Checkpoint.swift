import EventLog
import TokenDomain

/// What the engine's newest saved checkpoint holds, part by part: the next checkpoint names
/// again every part that did not change and writes only the others (``Checkpointer``).
///
/// A chunk's part is known unchanged when the state's chunk is still the very storage that
/// was written (``TokenTable/sharesChunk(_:with:)``): holding it here keeps it alive, so a
/// change to the state's chunk copies it first.
struct StoredCheckpoint: Sendable {
    struct Instance: Sendable {
        /// The key of the head part (``InstanceState/encodeSnapshotHead()``).
        var head: [UInt8]
        /// The key of each chunk's part, with the chunk as written.
        var chunks: [(key: [UInt8], records: [TokenRecord])]
    }

    /// Stream version of every instance stream (purged instances included).
    var versions: [InstanceID: UInt64] = [:]
    /// The parts of every instance in the state.
    var instances: [InstanceID: Instance] = [:]

    /// The checkpoint's own bytes and its part keys, in order:
    /// `u8 layout (2) ‖ u32 stream count ‖ (u16 id length ‖ id ‖ u64 version ‖ u32 parts)*`,
    /// streams sorted by id; an instance's parts are its head and then its chunks, and a
    /// purged instance has none (layout in `eventlog/EVENTS.md`).
    func manifest() -> (snapshot: [UInt8], parts: [[UInt8]]) {
        var bytes: [UInt8] = [StoredCheckpoint.layout]
        var parts: [[UInt8]] = []
        func append<T: FixedWidthInteger>(_ value: T) {
            withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
        }
        append(UInt32(versions.count))
        for (id, version) in versions.sorted(by: { $0.key < $1.key }) {
            let name = Array(id.rawValue.utf8)
            append(UInt16(name.count))
            bytes.append(contentsOf: name)
            append(version)
            if let instance = instances[id] {
                append(UInt32(1 + instance.chunks.count))
                parts.append(instance.head)
                parts.append(contentsOf: instance.chunks.map(\.key))
            } else {
                append(UInt32(0))
            }
        }
        return (bytes, parts)
    }

    /// The checkpoint layout this build writes and reads; checkpoints of layout 1 (the whole
    /// state in one value) are ignored and the log is folded from the start.
    static let layout: UInt8 = 2
}

extension ReplayedState {
    /// Why a checkpoint could not be used.
    struct SnapshotError: Error {
        var reason: String
    }

    /// The state a checkpoint holds, positioned at its sequence, with ``stored`` describing
    /// its parts. `parts` are the bytes of `checkpoint.parts`, in order
    /// (``EventStore/withCheckpointParts(of:_:)``).
    /// - Throws: when they do not decode.
    public init(checkpoint: Checkpoint, parts: [UnsafeRawBufferPointer]) throws {
        self.init()
        var stored = StoredCheckpoint()
        var instances: [InstanceID: InstanceState] = [:]
        var nextPart = 0
        try checkpoint.snapshot.withUnsafeBytes { raw in
            var offset = 0
            func take(_ count: Int) throws -> UnsafeRawBufferPointer {
                guard count >= 0, offset + count <= raw.count else {
                    throw SnapshotError(reason: "truncated")
                }
                defer { offset += count }
                return UnsafeRawBufferPointer(rebasing: raw[offset..<offset + count])
            }
            func read<T: FixedWidthInteger>(_: T.Type) throws -> T {
                T(littleEndian: try take(MemoryLayout<T>.size).loadUnaligned(as: T.self))
            }
            guard try read(UInt8.self) == StoredCheckpoint.layout else {
                throw SnapshotError(reason: "unknown layout")
            }
            var previous: InstanceID?
            for _ in 0..<(try read(UInt32.self)) {
                let length = Int(try read(UInt16.self))
                guard let id = InstanceID(String(decoding: try take(length), as: UTF8.self)),
                    previous.map({ $0 < id }) ?? true
                else { throw SnapshotError(reason: "bad or unordered instance id") }
                previous = id
                stored.versions[id] = try read(UInt64.self)
                let count = Int(try read(UInt32.self))
                guard count == 0 || nextPart + count <= parts.count else {
                    throw SnapshotError(reason: "names more parts than it has")
                }
                guard count > 0 else { continue }
                let instance = try InstanceState(
                    snapshotHead: parts[nextPart],
                    chunks: Array(parts[(nextPart + 1)..<(nextPart + count)]))
                guard instance.id == id else { throw SnapshotError(reason: "head of another id") }
                stored.instances[id] = StoredCheckpoint.Instance(
                    head: checkpoint.parts[nextPart],
                    chunks: instance.tokens.chunks.enumerated().map {
                        (checkpoint.parts[nextPart + 1 + $0.offset], $0.element)
                    })
                instances[id] = instance
                nextPart += count
            }
            guard offset == raw.count, nextPart == parts.count else {
                throw SnapshotError(reason: "trailing bytes or parts")
            }
        }
        state = ServerState(restoring: instances.values)
        versions = stored.versions
        head = LogHead(sequence: checkpoint.sequence, hash: checkpoint.hash, recordedAt: 0)
        checkpointSequence = checkpoint.sequence
        self.stored = stored
    }
}
