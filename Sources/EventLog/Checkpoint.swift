/// A projection's saved state and the log position it covers.
///
/// Stored beside the log in its own named database, one per `name`, replaced on each save.
/// A projection that restarts folds only the records after ``sequence`` — but only after the
/// log confirmed that its record at ``sequence`` has ``hash`` and that every part it names
/// is stored (see ``EventStore/checkpoint(named:)``).
///
/// A large state is saved in **parts** (``EventStore/saveCheckpointParts(name:parts:)``),
/// each committed on its own before the checkpoint that names them: a part that did not
/// change since the last checkpoint is named again, not written again, and no commit carries
/// more than one part, so appends never wait behind a whole snapshot. Saving a checkpoint
/// removes the parts of its name that it does not name; until then the previous checkpoint
/// and its parts stay whole, so a crash between parts leaves the previous one usable.
public struct Checkpoint: Sendable, Equatable {
    /// The projection's name, e.g. `token-state`: 1...200 UTF-8 bytes.
    public var name: String
    /// The last record folded into ``snapshot``.
    public var sequence: UInt64
    /// That record's hash.
    public var hash: ChainHash
    /// The projection's own encoding of its state (with large states, what holds the parts
    /// together).
    public var snapshot: [UInt8]
    /// The keys of the parts this checkpoint is made of, in the order the projection reads
    /// them (``EventStore/withCheckpointParts(of:_:)``); each 1...``maximumPartKeyLength``
    /// bytes.
    public var parts: [[UInt8]]

    public init(
        name: String, sequence: UInt64, hash: ChainHash, snapshot: [UInt8], parts: [[UInt8]] = []
    ) {
        self.name = name
        self.sequence = sequence
        self.hash = hash
        self.snapshot = snapshot
        self.parts = parts
    }

    /// The longest part key: with the name (≤ 200 bytes) and its length byte it stays within
    /// LMDB's 511-byte keys.
    public static let maximumPartKeyLength = 255

    /// Why a checkpoint's name or part key cannot be stored, `nil` when it can.
    public static func refusal(name: String, partKeys: [[UInt8]]) -> String? {
        guard !name.utf8.isEmpty, name.utf8.count <= RecordCodec.maximumStreamLength else {
            return "checkpoint name must be 1...\(RecordCodec.maximumStreamLength) bytes"
        }
        for key in partKeys where key.isEmpty || key.count > maximumPartKeyLength {
            return "checkpoint part keys must be 1...\(maximumPartKeyLength) bytes"
        }
        return nil
    }

    /// Why a store refuses to save this checkpoint, given what matching it against the log
    /// found (``CheckpointLookup/judging(_:recordHash:missingPart:)``); `nil` when it may.
    public func refusalToSave(_ match: CheckpointLookup) -> String? {
        switch match {
        case .valid: return nil
        case .rejected(let why) where !parts.isEmpty: return why
        default: return "checkpoint position \(sequence) is not a record of this log"
        }
    }

    /// The failure of a part this checkpoint names at `position` that is not stored.
    public func missingPart(at position: Int) -> EventLogError {
        .corruptedRecord(
            sequence: sequence,
            reason: "checkpoint '\(name)' part \(position + 1) of \(parts.count) is not stored")
    }

    /// ``EventStore/withCheckpointParts(of:_:)`` for a store that fetched the parts' bytes
    /// (`stored`, by key): runs `body` on them in this checkpoint's order, all in one buffer.
    /// - Throws: ``missingPart(at:)`` for the first part `stored` does not have.
    public func withParts<R>(
        _ stored: ([UInt8]) -> (some Collection<UInt8>)?,
        _ body: ([UnsafeRawBufferPointer]) throws -> R
    ) throws -> R {
        var joined: [UInt8] = []
        var ranges: [Range<Int>] = []
        for (position, key) in parts.enumerated() {
            guard let bytes = stored(key) else { throw missingPart(at: position) }
            ranges.append(joined.count..<joined.count + bytes.count)
            joined += bytes
        }
        return try joined.withUnsafeBytes { all in
            try body(ranges.map { UnsafeRawBufferPointer(rebasing: all[$0]) })
        }
    }

    /// 1: no parts. 2: the part keys follow the hash.
    static let layoutVersion: UInt8 = 2

    /// `u8 layout ‖ u64 sequence ‖ hash ‖ u32 part count ‖ (u8 key length ‖ key)* ‖ snapshot`.
    func encoded() -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(45 + parts.count * 24 + snapshot.count)
        out.append(Checkpoint.layoutVersion)
        RecordCodec.append(sequence, to: &out)
        out.append(contentsOf: hash.bytes)
        withUnsafeBytes(of: UInt32(parts.count).littleEndian) { out.append(contentsOf: $0) }
        for key in parts {
            out.append(UInt8(key.count))
            out.append(contentsOf: key)
        }
        out.append(contentsOf: snapshot)
        return out
    }

    init?(name: String, encoded bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= 41, bytes[0] == 1 || bytes[0] == 2 else { return nil }
        self.name = name
        sequence = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 1, as: UInt64.self))
        hash = ChainHash(bytes: UnsafeRawBufferPointer(rebasing: bytes[9..<41]))
        var offset = 41
        parts = []
        if bytes[0] == 2 {
            guard bytes.count >= 45 else { return nil }
            let count = UInt32(
                littleEndian: bytes.loadUnaligned(fromByteOffset: 41, as: UInt32.self))
            offset = 45
            for _ in 0..<count {
                guard offset < bytes.count else { return nil }
                let length = Int(bytes[offset])
                guard length > 0, offset + 1 + length <= bytes.count else { return nil }
                parts.append(Array(bytes[(offset + 1)..<(offset + 1 + length)]))
                offset += 1 + length
            }
        }
        snapshot = Array(bytes[offset...])
    }

    /// The key under which a part is stored: `u8 name length ‖ name ‖ part key`.
    static func storageKey(name: String, part: [UInt8]) -> [UInt8] {
        storagePrefix(name: name) + part
    }

    /// The first bytes of every stored part key of `name`.
    static func storagePrefix(name: String) -> [UInt8] {
        [UInt8(name.utf8.count)] + Array(name.utf8)
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
    /// (never 0) with its hash, and every part it names is stored.
    /// - Parameters:
    ///   - recordHash: the hash of the log's record at `cp.sequence`, `nil` when the
    ///   log has none there.
    ///   - missingPart: the position in `cp.parts` of a part that is not stored, if any.
    public static func judging(_ cp: Checkpoint, recordHash: ChainHash?, missingPart: Int? = nil)
        -> CheckpointLookup
    {
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
        if let missingPart {
            return .rejected(
                reason:
                    "checkpoint '\(cp.name)' names part \(missingPart + 1) of \(cp.parts.count), which is not stored"
            )
        }
        return .valid(cp)
    }
}
