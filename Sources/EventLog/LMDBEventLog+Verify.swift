import LMDB

/// What ``LMDBEventLog/verify(progress:)`` found.
public struct VerificationReport: Sendable, Equatable {
    /// Records read (up to the first failure).
    public var records: UInt64
    /// Streams seen.
    public var streams: Int
    /// The newest record that checked.
    public var head: LogHead
    /// Checkpoints that matched the log.
    public var checkpoints: Int
    /// The first thing wrong, or `nil` when the log is sound.
    public var failure: VerificationFailure?

    public var isValid: Bool { failure == nil }

    public init(
        records: UInt64, streams: Int, head: LogHead, checkpoints: Int,
        failure: VerificationFailure?
    ) {
        self.records = records
        self.streams = streams
        self.head = head
        self.checkpoints = checkpoints
        self.failure = failure
    }
}

/// One thing wrong with the log: the first bad sequence number and what is wrong there.
public struct VerificationFailure: Sendable, Equatable, CustomStringConvertible {
    public var sequence: UInt64
    public var reason: String
    public var description: String { "sequence \(sequence): \(reason)" }

    public init(sequence: UInt64, reason: String) {
        self.sequence = sequence
        self.reason = reason
    }
}

extension LMDBEventLog {
    /// Checks the whole log from one snapshot: sequence contiguity from 1, every record
    /// decodes, the hash chain end to end, recorded times never go back, stream versions are
    /// gapless, the stream links and the event-id index hold exactly one entry per record, the
    /// stream heads one per stream naming its newest record, and every checkpoint names a
    /// record of this log with its hash.
    ///
    /// The indexes are compared as multisets in one sequential pass each; only when they
    /// disagree is the first offending record looked up one by one.
    /// - Parameter progress: called every 65,536 records with the sequence reached.
    /// - Throws: storage errors only; damage is reported in the result.
    public func verify(progress: ((UInt64) -> Void)? = nil) throws -> VerificationReport {
        struct Stop: Error {
            var sequence: UInt64
            var reason: String
        }
        var report = VerificationReport(
            records: 0, streams: 0, head: .empty, checkpoints: 0, failure: nil)
        var audit = RecordAudit()
        var linkSum = IndexSum()
        var idSum = IndexSum()
        return try snapshot { txn in
            do {
                try scan(txn: txn, from: 1, through: nil, verifyingChain: true) { view in
                    let key = view.sequence
                    var previous: UInt64 = 0
                    if let why = audit.admit(view, previousInStream: &previous) {
                        throw Stop(sequence: key, reason: why)
                    }
                    linkSum.add(link: key, previous: previous)
                    idSum.add(id: view.eventID, sequence: key, version: view.streamVersion)
                    report.records = key
                    report.head = LogHead(
                        sequence: key, hash: view.hash, recordedAt: view.recordedAt)
                    if key & 0xFFFF == 0 { progress?(key) }
                }
            } catch let stop as Stop {
                report.failure = VerificationFailure(sequence: stop.sequence, reason: stop.reason)
            } catch EventLogError.corruptedRecord(let sequence, let reason) {
                report.failure = VerificationFailure(sequence: sequence, reason: reason)
            }
            report.streams = audit.streams
            if report.failure != nil { return report }

            func fail(_ sequence: UInt64, _ reason: String) -> VerificationReport {
                var r = report
                r.failure = VerificationFailure(sequence: sequence, reason: reason)
                return r
            }

            var indexedLinks = IndexSum()
            try txn.withCursor(databases.streamLinks) { cursor in
                var entry = try cursor.first()
                while let e = entry {
                    if e.key.count == 8, e.value.count == 8 {
                        indexedLinks.add(
                            link: SequenceKey.decode(e.key), previous: SequenceKey.decode(e.value))
                    } else {
                        indexedLinks.count &+= 1
                    }
                    entry = try cursor.next()
                }
            }
            var headSum = IndexSum()
            for (stream, head) in audit.heads {
                headSum.add(stream: stream, version: head.version, sequence: head.sequence)
            }
            var indexedHeads = IndexSum()
            try txn.withCursor(databases.streamHeads) { cursor in
                var entry = try cursor.first()
                while let e = entry {
                    if let head = StreamHead(stored: e.value) {
                        indexedHeads.add(
                            stream: String(decoding: e.key, as: UTF8.self), version: head.version,
                            sequence: head.sequence)
                    } else {
                        indexedHeads.count &+= 1
                    }
                    entry = try cursor.next()
                }
            }
            var indexedIDs = IndexSum()
            try txn.withCursor(databases.eventIDs) { cursor in
                var entry = try cursor.first()
                while let e = entry {
                    if e.key.count == 16, e.value.count == 16 {
                        indexedIDs.add(
                            id: EventID(bytes: e.key), sequence: SequenceKey.decode(e.value),
                            version: SequenceKey.decode(
                                UnsafeRawBufferPointer(rebasing: e.value[8...])))
                    } else {
                        indexedIDs.count &+= 1
                    }
                    entry = try cursor.next()
                }
            }
            if indexedLinks != linkSum || indexedIDs != idSum || indexedHeads != headSum {
                let (sequence, reason) = try firstIndexDisagreement(
                    txn: txn, head: report.head.sequence, heads: audit.heads)
                return fail(sequence, reason)
            }

            var checkpointFailure: VerificationFailure?
            for name in try checkpointNames(txn) where checkpointFailure == nil {
                guard let bytes = try txn.getBytes(databases.checkpoints, key: Array(name.utf8)),
                    let cp = bytes.withUnsafeBytes({ Checkpoint(name: name, encoded: $0) })
                else {
                    checkpointFailure = VerificationFailure(
                        sequence: 0, reason: "checkpoint '\(name)' does not decode")
                    continue
                }
                if case .rejected(let why) = try LMDBEventLog.match(
                    cp, txn: txn, databases: databases)
                {
                    checkpointFailure = VerificationFailure(sequence: cp.sequence, reason: why)
                } else {
                    report.checkpoints += 1
                }
            }
            report.failure = checkpointFailure
            return report
        }
    }

    /// The first record whose index entries are missing or wrong, or else the first index
    /// entry that names no matching record.
    /// `heads` are the stream heads the records imply.
    private func firstIndexDisagreement(
        txn: borrowing LMDBTransaction, head: UInt64, heads: [String: StreamHead]
    ) throws -> (UInt64, String) {
        var found: (UInt64, String)?
        var previous = [String: UInt64]()
        try txn.withCursor(databases.records) { cursor in
            var entry = try cursor.first()
            while let e = entry, found == nil {
                let view = try RecordCodec.view(e.value)
                let stream = view.streamString
                let link = try txn.getBytes(
                    databases.streamLinks, key: SequenceKey.bytes(view.sequence))
                if link != SequenceKey.bytes(previous[stream] ?? 0) {
                    found = (view.sequence, "stream link missing or wrong")
                } else if try txn.getBytes(databases.eventIDs, key: view.eventID.bytes)
                    != SequenceKey.bytes(view.sequence) + SequenceKey.bytes(view.streamVersion)
                {
                    found = (view.sequence, "event-id index entry missing or wrong")
                }
                previous[stream] = view.sequence
                entry = try cursor.next()
            }
        }
        if let found { return found }
        // Entries naming records past the end (records cut off the end of the log).
        var beyond = false
        try txn.withCursor(databases.streamLinks) { cursor in
            if let last = try cursor.last(), SequenceKey.decode(last.key) > head { beyond = true }
        }
        try txn.withCursor(databases.streamHeads) { cursor in
            var entry = try cursor.first()
            while let e = entry {
                if let stored = StreamHead(stored: e.value), stored.sequence > head {
                    beyond = true
                }
                entry = try cursor.next()
            }
        }
        if beyond { return (head + 1, "stream index names a record the log does not have") }
        // The newest record of each stream whose stored head is missing or wrong.
        var wrongHead: UInt64?
        for (stream, expected) in heads {
            let stored = try? StreamHead.stored(stream, txn: txn, heads: databases.streamHeads)
            if stored != expected { wrongHead = min(wrongHead ?? .max, expected.sequence) }
        }
        if let wrongHead { return (wrongHead, "stream head missing or wrong") }
        return (head + 1, "an index holds an entry that matches no record")
    }
}

/// An order-independent digest of index entries: count plus a wrapping sum of hashes.
private struct IndexSum: Equatable {
    var count: UInt64 = 0
    var sum: UInt64 = 0

    mutating func add(stream: String, version: UInt64, sequence: UInt64) {
        var h = Hasher()
        h.combine(0 as UInt8)
        h.combine(stream)
        h.combine(version)
        h.combine(sequence)
        count &+= 1
        sum &+= UInt64(bitPattern: Int64(h.finalize()))
    }

    mutating func add(link sequence: UInt64, previous: UInt64) {
        var h = Hasher()
        h.combine(2 as UInt8)
        h.combine(sequence)
        h.combine(previous)
        count &+= 1
        sum &+= UInt64(bitPattern: Int64(h.finalize()))
    }

    mutating func add(id: EventID, sequence: UInt64, version: UInt64) {
        var h = Hasher()
        h.combine(1 as UInt8)
        h.combine(id)
        h.combine(sequence)
        h.combine(version)
        count &+= 1
        sum &+= UInt64(bitPattern: Int64(h.finalize()))
    }
}
