import EventLog

extension PostgresEventLog {
    /// Checks the whole log as of the head when it starts: sequences contiguous from 1, every
    /// record decodes, the hash chain end to end, each record as ``RecordAudit`` checks it
    /// (times, type tags, stream versions), each row's lookup columns (stream, stream version, event id) say what its
    /// record bytes say, the head row names the newest record and its hash, and every
    /// checkpoint names a record of this log with its hash. The same checks as
    /// ``LMDBEventLog/verify(progress:)``, with the columns in place of LMDB's indexes.
    /// - Parameter progress: called every 65,536 records with the sequence reached.
    /// - Throws: ``EventLogError`` for database errors only; damage is reported in the result.
    public func verify(progress: ((UInt64) -> Void)? = nil) async throws -> VerificationReport {
        struct Stop: Error {
            var sequence: UInt64
            var reason: String
        }
        var report = VerificationReport(
            records: 0, streams: 0, head: .empty, checkpoints: 0, failure: nil)
        let stored = try await head()
        var audit = RecordAudit()
        var previous = ChainHash.zero
        var next: UInt64 = 1
        do {
            while next <= stored.sequence {
                let page = try await page(
                    from: next, through: min(stored.sequence, next + scanPageSize - 1),
                    checkingHashes: true, withColumns: true)
                guard !page.rows.isEmpty else {
                    throw Stop(sequence: next, reason: "record missing")
                }
                for ((sequence, record), row) in zip(page.rows, page.columns) {
                    guard sequence == next else {
                        throw Stop(
                            sequence: next, reason: "record missing (next stored is \(sequence))")
                    }
                    try PostgresEventLog.view(record, at: next) { view in
                        if view.previousHash != previous {
                            throw Stop(sequence: next, reason: RecordCodec.brokenLink)
                        }
                        if let failure = page.hashFailure, failure.sequence == next {
                            throw Stop(sequence: next, reason: failure.reason)
                        }
                        var previousInStream: UInt64 = 0
                        if let why = audit.admit(view, previousInStream: &previousInStream) {
                            throw Stop(sequence: next, reason: why)
                        }
                        guard row.stream == view.streamString,
                            row.streamVersion == view.streamVersion, row.eventID == view.eventID
                        else {
                            throw Stop(
                                sequence: next,
                                reason: "the row's columns do not match its record bytes")
                        }
                        previous = view.hash
                        report.records = next
                        report.head = LogHead(
                            sequence: next, hash: view.hash, recordedAt: view.recordedAt)
                    }
                    if next & 0xFFFF == 0 { progress?(next) }
                    next += 1
                }
            }
            if report.head.sequence != stored.sequence || report.head.hash != stored.hash {
                throw Stop(
                    sequence: stored.sequence,
                    reason: "the head row does not name the newest record and its hash")
            }
        } catch let stop as Stop {
            report.failure = VerificationFailure(sequence: stop.sequence, reason: stop.reason)
        } catch EventLogError.corruptedRecord(let sequence, let reason) {
            report.failure = VerificationFailure(sequence: sequence, reason: reason)
        }
        report.streams = audit.streams
        if report.failure != nil { return report }
        for name in try await checkpointNames() {
            switch try await checkpoint(named: name) {
            case .valid: report.checkpoints += 1
            case .rejected(let why):
                report.failure = VerificationFailure(sequence: 0, reason: why)
                return report
            case .none: break
            }
        }
        return report
    }
}
