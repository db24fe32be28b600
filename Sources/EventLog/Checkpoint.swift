/// A projection's saved state and the log position it covers.
///
/// Stored beside the log in its own named database, one per `name`, replaced on each save.
/// A projection that restarts folds only the records after ``sequence`` — but only after the
/// log confirmed that its record at ``sequence`` has ``hash`` (see ``EventStore/checkpoint(named:)``).
public struct Checkpoint: Sendable, Equatable {
    /// The projection's name, e.g. `token-state`: 1...200 UTF-8 bytes.
    public var name: String
    /// The last record folded into ``snapshot``.
    public var sequence: UInt64
    /// That record's hash.
    public var hash: ChainHash
    /// The projection's own encoding of its state.
    public var snapshot: [UInt8]

    public init(name: String, sequence: UInt64, hash: ChainHash, snapshot: [UInt8]) {
        self.name = name
        self.sequence = sequence
        self.hash = hash
        self.snapshot = snapshot
    }

    static let layoutVersion: UInt8 = 1

    func encoded() -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(41 + snapshot.count)
        out.append(Checkpoint.layoutVersion)
        RecordCodec.append(sequence, to: &out)
        out.append(contentsOf: hash.bytes)
        out.append(contentsOf: snapshot)
        return out
    }

    init?(name: String, encoded bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= 41, bytes[0] == Checkpoint.layoutVersion else { return nil }
        self.name = name
        sequence = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 1, as: UInt64.self))
        hash = ChainHash(bytes: UnsafeRawBufferPointer(rebasing: bytes[9..<41]))
        snapshot = Array(bytes[41...])
    }
}

/// What ``EventStore/checkpoint(named:)`` found.
public enum CheckpointLookup: Sendable, Equatable {
    /// None saved under that name.
    case none
    /// One whose position matches the log: safe to use.
    case valid(Checkpoint)
    /// One that does not match this log (a stale copy, another log's, or damaged): ignore it.
    case rejected(reason: String)

    /// The checkpoint when it is valid.
    public var checkpoint: Checkpoint? {
        if case .valid(let c) = self { return c }
        return nil
    }

    /// The one rule of every store: `cp` is valid when the log has a record at its sequence
    /// (never 0) with its hash.
    /// - Parameter recordHash: the hash of the log's record at `cp.sequence`, `nil` when the
    ///   log has none there.
    public static func judging(_ cp: Checkpoint, recordHash: ChainHash?) -> CheckpointLookup {
        guard cp.sequence > 0, let recordHash else {
            return .rejected(
                reason:
                    "checkpoint '\(cp.name)' is at sequence \(cp.sequence), which this log does not have"
            )
        }
        guard recordHash == cp.hash else {
            return .rejected(
                reason: "checkpoint '\(cp.name)' hash does not match record \(cp.sequence)")
        }
        return .valid(cp)
    }
}
