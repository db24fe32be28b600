import EventLog
import TokenDomain

/// State folded from a log up to a position: what the server starts from, what the offline
/// tools show, and what the tests compare with the live engine.
public struct ReplayedState: Sendable {
    public var state: ServerState
    /// Stream version of every instance stream seen (purged instances included).
    public var versions: [InstanceID: UInt64]
    /// The last record folded in (``LogHead/empty`` when none).
    public var head: LogHead
    /// Records folded by this replay (not counting those covered by a checkpoint).
    public var eventsFolded = 0
    /// The checkpoint the replay started from, if any.
    public var checkpointSequence: UInt64?
    /// The parts of that checkpoint (``StoredCheckpoint``), for the engine's next one.
    var stored: StoredCheckpoint?
    /// The instances this replay's folds touched (created, changed or purged).
    var foldedInstances: Set<InstanceID> = []

    public init(
        state: ServerState = ServerState(), versions: [InstanceID: UInt64] = [:],
        head: LogHead = .empty
    ) {
        self.state = state
        self.versions = versions
        self.head = head
    }

    /// The name under which the engine saves its checkpoints (a server sharing its log with
    /// others uses its own, ``EngineConfiguration/checkpointName``).
    public static let checkpointName = "token-state"

    /// Why a log could not be folded.
    public struct FoldFailure: Error, CustomStringConvertible {
        public var sequence: UInt64
        public var reason: String
        public var description: String { "cannot fold record \(sequence): \(reason)" }
    }

    /// Folds the records after ``head`` through `through` (or the newest), checking the hash
    /// chain as it goes.
    /// - Parameter stopAt: stop before the first record recorded after this time (µs), for
    ///   "the state at time T".
    /// - Throws: ``EventLogError`` for a damaged log (whatever was folded must be discarded),
    ///   ``FoldFailure`` for a record that does not decode or fit.
    public mutating func fold(
        _ log: any EventStore, through: UInt64? = nil, stopAt time: Int64? = nil,
        verifyingChain: Bool = true
    ) async throws {
        var lastStream: [UInt8] = []
        var lastInstance: InstanceID?
        var lastVersion: UInt64 = 0
        var folded = 0
        var reachedTime = false
        // Index token hashes once at the end: inserting them one by one is most of a fold.
        state.deferTokenIndexes()
        let newest = (try? await log.head().sequence) ?? 0
        let end = try await log.scan(
            from: head.sequence + 1, through: through, verifyingChain: verifyingChain
        ) { view in
            if reachedTime { return }
            if let time, view.recordedAt > time {
                reachedTime = true
                return
            }
            // Signed tree heads vouch for the log; they hold nothing of the state.
            if view.stream.elementsEqual(SignedTreeHead.stream.utf8) { return }
            let instance: InstanceID
            if let last = lastInstance,
                lastStream.withUnsafeBytes({ view.stream.hasSameBytes(as: $0) })
            {
                instance = last
            } else {
                if let last = lastInstance { versions[last] = lastVersion }
                guard let id = InstanceID(view.streamString) else {
                    throw FoldFailure(
                        sequence: view.sequence, reason: "stream is not an instance id")
                }
                foldedInstances.insert(id)
                instance = id
                lastInstance = id
                lastStream = Array(view.stream)
            }
            let event: DomainEvent
            do {
                event = try EventCodec.decode(tagBytes: view.type, payload: view.payload)
            } catch {
                throw FoldFailure(
                    sequence: view.sequence, reason: "payload does not decode: \(error)")
            }
            do {
                try state.apply(StoredEvent(instance: instance, event: event))
            } catch {
                throw FoldFailure(sequence: view.sequence, reason: "\(error)")
            }
            // An instance that reaches 2^16 tokens in this fold gets room for every record still
            // to come at once, instead of doubling its token array (and faulting in fresh pages)
            // four more times per million. Unused room stays virtual: it is never touched.
            if case .tokenIssued(let issued) = event, issued.serial.rawValue == 1 << 16,
                newest > view.sequence
            {
                state.reserveTokenCapacity(Int(newest - view.sequence), for: instance)
            }
            lastVersion = view.streamVersion
            head = LogHead(sequence: view.sequence, hash: view.hash, recordedAt: view.recordedAt)
            folded += 1
        }
        if let last = lastInstance { versions[last] = lastVersion }
        do {
            try state.rebuildTokenIndexes()
        } catch {
            throw FoldFailure(sequence: head.sequence, reason: "\(error)")
        }
        if !reachedTime && end.sequence > head.sequence { head = end }
        eventsFolded += folded
    }

    /// The state of `log`: its newest valid checkpoint (if any) plus every record after it.
    /// A rejected checkpoint, or one whose parts do not decode, is ignored and the whole log
    /// is folded.
    public static func load(_ log: any EventStore, checkpointName: String = checkpointName)
        async throws -> ReplayedState
    {
        var replayed = ReplayedState()
        if let checkpoint = try await log.checkpoint(named: checkpointName).checkpoint,
            let restored = try? await log.withCheckpointParts(
                of: checkpoint, { try ReplayedState(checkpoint: checkpoint, parts: $0) })
        {
            replayed = restored
        }
        try await replayed.fold(log)
        return replayed
    }
}
