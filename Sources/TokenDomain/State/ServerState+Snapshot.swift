extension ServerState {
    /// The layout version byte every snapshot starts with. 3: the failure count counts the
    /// challenges of every operation (the fold changed, so snapshots of layout 2 are rebuilt
    /// from the log rather than read with a count that meant less). 4: each instance ends
    /// with its backend credential's fingerprint. 5: an instance's tokens come after the rest
    /// of it, so that a checkpoint can store them apart, chunk by chunk
    /// (``InstanceState/encodeSnapshotHead()``).
    public static let snapshotLayoutVersion: UInt8 = 5

    /// The whole state as one byte string, for a checkpoint: the engine stores it with the
    /// log position it covers, and on restart reads it back with ``init(snapshot:)`` and
    /// folds only the events after that position. Layout: "Snapshot layout" in `EVENTS.md`.
    ///
    /// Canonical: instances in ascending id order, tokens in serial order, challenges in id
    /// order, so equal states
    /// give equal bytes. Holds the password hashes (never passwords) and token hashes (never
    /// secrets) the state holds: store it like the log.
    public func encodeSnapshot() -> [UInt8] {
        var capacity = 9
        for instance in instances.values {
            capacity += 256 + instance.details.count
            capacity += instance.tokens.count * TokenRecord.minimumSnapshotSize
            capacity += instance.challenges.count * (ChallengeState.minimumSnapshotSize + 160)
            for token in instance.tokens {
                if let description = token.description { capacity += 4 + description.utf8.count }
            }
        }
        var writer = ByteWriter(capacity: capacity)
        writer.u8(Self.snapshotLayoutVersion)
        writer.u64(UInt64(instances.count))
        for id in instances.keys.sorted() {
            instances[id]!.writeSnapshot(into: &writer)
        }
        return writer.bytes
    }

    /// Reads a state written by ``encodeSnapshot()``, rebuilding each instance's token hash
    /// index; arrays and indexes are sized once from the counts in the snapshot.
    ///
    /// Checks what the fold would: every length and code, valid and strictly ascending
    /// instance ids, unique token hashes per instance, canonical bytes (one byte form per
    /// state). A snapshot that decodes is one ``encodeSnapshot()`` writes for the result.
    ///
    /// - Throws: ``SnapshotDecodingError`` for an unknown layout version or malformed
    ///   bytes; never traps and never reads outside `snapshot`. Discard the snapshot and
    ///   fold the log from the start.
    public init(snapshot: UnsafeRawBufferPointer) throws(SnapshotDecodingError) {
        do throws(ByteReader.Failure) {
            var reader = ByteReader(snapshot)
            try reader.version(Self.snapshotLayoutVersion)
            let count = try reader.count(
                "instanceCount", minimumSize: InstanceState.minimumSnapshotSize)
            var instances = [InstanceID: InstanceState](minimumCapacity: count)
            var previous: InstanceID?
            for _ in 0..<count {
                let instance = try InstanceState(snapshot: &reader, after: previous)
                previous = instance.id
                instances[instance.id] = instance
            }
            try reader.finish()
            self.init(instances: instances)
        } catch {
            throw SnapshotDecodingError(error)
        }
    }

    /// Reads a snapshot held in an array; see ``init(snapshot:)-(UnsafeRawBufferPointer)``.
    public init(snapshot: [UInt8]) throws(SnapshotDecodingError) {
        let result = snapshot.withUnsafeBytes { bytes in
            Result { () throws(SnapshotDecodingError) in try ServerState(snapshot: bytes) }
        }
        self = try result.get()
    }
}
