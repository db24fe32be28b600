import EventLog
import TokenDomain

extension ReplayedState {
    /// Why a checkpoint's snapshot could not be used.
    struct SnapshotError: Error {
        var reason: String
    }

    /// The checkpoint of this state at ``head``:
    /// `u8 layout (1) ‖ u32 stream count ‖ (u16 id length ‖ id ‖ u64 version)* ‖ state snapshot`,
    /// little-endian; the state snapshot's layout is in `eventlog/EVENTS.md`.
    func checkpoint() -> Checkpoint {
        var bytes: [UInt8] = [1]
        func append<T: FixedWidthInteger>(_ value: T) {
            withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
        }
        append(UInt32(versions.count))
        for (instance, version) in versions.sorted(by: { $0.key < $1.key }) {
            let id = Array(instance.rawValue.utf8)
            append(UInt16(id.count))
            bytes.append(contentsOf: id)
            append(version)
        }
        bytes.append(contentsOf: state.encodeSnapshot())
        return Checkpoint(
            name: ReplayedState.checkpointName, sequence: head.sequence, hash: head.hash,
            snapshot: bytes)
    }

    /// The state a checkpoint holds, positioned at its sequence.
    /// - Throws: ``SnapshotError`` when the bytes do not decode.
    init(checkpoint: Checkpoint) throws {
        self.init()
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
            guard try read(UInt8.self) == 1 else { throw SnapshotError(reason: "unknown layout") }
            let count = try read(UInt32.self)
            for _ in 0..<count {
                let length = Int(try read(UInt16.self))
                guard let id = InstanceID(String(decoding: try take(length), as: UTF8.self)) else {
                    throw SnapshotError(reason: "bad instance id")
                }
                versions[id] = try read(UInt64.self)
            }
            state = try ServerState(snapshot: UnsafeRawBufferPointer(rebasing: raw[offset...]))
        }
        head = LogHead(sequence: checkpoint.sequence, hash: checkpoint.hash, recordedAt: 0)
        checkpointSequence = checkpoint.sequence
    }
}
