import EventLog
import Foundation
import TextCoding
import TokenDomain
import TokenEngine

/// The offline tools as library functions: `tallystick-log` is a thin command line over
/// these, and the tests call them directly. `dump`, `state`, `stats` and `explain` read any
/// ``EventStore``; `verify` (it checks LMDB's indexes too) and `backup` (a copy of LMDB's
/// file) work on the LMDB log of a data directory, which they open read-only (safe while a
/// server writes it); `load` fills a new LMDB log, or any store through its restore.
public enum LogTool {
    /// Opens the log in `dataDir` read-only, or fails with one clear line.
    public static func open(_ dataDir: String) throws -> LMDBEventLog {
        do {
            return try LMDBEventLog.openReadOnly(directory: dataDir)
        } catch {
            throw ToolError("cannot open the event log in \(dataDir): \(error)")
        }
    }

    // MARK: verify

    /// Checks the whole log; see ``LMDBEventLog/verify(progress:)``.
    public static func verify(_ dataDir: String, progress: Progress? = nil) throws
        -> VerificationReport
    {
        let log = try open(dataDir)
        let report = try log.verify { progress?.update($0) }
        progress?.finish()
        return report
    }

    /// The position of the engine's valid checkpoint, if there is one.
    public static func checkpointSequence(_ log: any EventStore) async throws -> UInt64? {
        try await log.checkpoint(named: ReplayedState.checkpointName).checkpoint?.sequence
    }

    /// Checks that the engine's checkpoint (when there is a valid one) holds exactly the
    /// state of the log up to its position: every part decodes, and the state they make has
    /// the digest and stream versions of a fold of records 1 through its sequence. (Whether it
    /// names a record of the log with its hash, and has all its parts, is the store's
    /// verification.) Returns the failure, or `nil`.
    public static func verifyCheckpointState(_ log: any EventStore) async throws
        -> VerificationFailure?
    {
        guard let cp = try await log.checkpoint(named: ReplayedState.checkpointName).checkpoint
        else { return nil }
        let restored: ReplayedState
        do {
            restored = try await log.withCheckpointParts(of: cp) {
                try ReplayedState(checkpoint: cp, parts: $0)
            }
        } catch {
            return VerificationFailure(
                sequence: cp.sequence, reason: "checkpoint '\(cp.name)' does not decode: \(error)")
        }
        var folded = ReplayedState()
        try await folded.fold(log, through: cp.sequence)
        guard StateDigest.hex(of: restored.state) == StateDigest.hex(of: folded.state),
            restored.versions == folded.versions
        else {
            return VerificationFailure(
                sequence: cp.sequence,
                reason:
                    "checkpoint '\(cp.name)' does not hold the state of records 1...\(cp.sequence)")
        }
        return nil
    }

    /// The report as JSON; `checkpointSequence` is the position of the engine's checkpoint
    /// (`null` when there is none).
    public static func verifyJSON(_ report: VerificationReport, checkpointSequence: UInt64? = nil)
        -> String
    {
        JSONWriter.object { w in
            w.bool("valid", report.isValid)
            w.number("records", report.records)
            w.number("streams", report.streams)
            w.number("checkpoints", report.checkpoints)
            if let checkpointSequence {
                w.number("checkpoint_sequence", checkpointSequence)
            } else {
                w.raw("checkpoint_sequence", "null")
            }
            w.number("head_sequence", report.head.sequence)
            w.string("head_hash", report.head.hash.hex)
            if let f = report.failure {
                w.object("failure") { f2 in
                    f2.number("sequence", f.sequence)
                    f2.string("reason", f.reason)
                }
            } else {
                w.raw("failure", "null")
            }
        }
    }

    // MARK: dump and load

    /// Writes records `from`...`to` as JSON lines (``RecordJSON``). Returns how many.
    @discardableResult
    public static func dump(
        _ log: any EventStore, from: UInt64 = 1, to: UInt64? = nil, progress: Progress? = nil,
        write: (String) -> Void
    ) async throws -> Int {
        var count = 0
        try await log.scan(from: from, through: to, verifyingChain: false) { view in
            write(RecordJSON.line(view.copy()))
            count += 1
            if count & 0xFFF == 0 { progress?.update(view.sequence) }
        }
        progress?.finish()
        return count
    }

    /// Loads a dump (lines from ``dump(_:from:to:progress:write:)``, starting at sequence 1)
    /// into the new or empty log at `dataDir`, checking every record's hash and link.
    /// Returns the head of the loaded log.
    public static func load(_ lines: some Sequence<String>, into dataDir: String) async throws
        -> LogHead
    {
        if let existing = try? LMDBEventLog.openReadOnly(directory: dataDir) {
            let head = try existing.head()
            await existing.close()
            guard head == .empty else {
                throw ToolError("\(dataDir) already holds a log: load needs a new directory")
            }
        }
        // Durable commits (one per restore batch of 10,000 records, so the flushes cost
        // little): a power cut during a load leaves a shorter log that verifies. Unflushed
        // commits let LMDB's meta page reach the disk before the pages it points to, which
        // left a log no tool could open (found by the power-cut fault).
        let configuration = LMDBEventLog.Configuration(directory: dataDir)
        let log: LMDBEventLog
        do {
            log = try LMDBEventLog.open(configuration)
        } catch {
            throw ToolError("cannot create an event log in \(dataDir): \(error)")
        }
        do {
            try await load(lines) { try await log.restore($0) }
        } catch {
            await log.close()
            throw error
        }
        let head = try log.head()
        await log.close()
        return head
    }

    /// Loads a dump through `restore`, a store's restore (``LMDBEventLog/restore(_:batch:)``
    /// or PostgreSQL's), which checks every record (``RestoredChain``). A line that is not a
    /// record stops the load with its line number.
    public static func load(
        _ lines: some Sequence<String>,
        restore: (AnySequence<EventRecord>) async throws -> Void
    ) async throws {
        var lineNumber = 0
        var parseError: ToolError?
        let records = lines.lazy.compactMap { line -> EventRecord? in
            lineNumber += 1
            if parseError != nil || line.isEmpty { return nil }
            do {
                return try RecordJSON.record(from: line, lineNumber: lineNumber)
            } catch {
                parseError = error as? ToolError ?? ToolError("line \(lineNumber): \(error)")
                return nil
            }
        }
        do {
            try await restore(AnySequence(records))
        } catch {
            throw parseError ?? ToolError("load stopped: \(error)")
        }
        if let parseError { throw parseError }
    }

    // MARK: state-at

    /// Where to stop a replay.
    public enum Point: Sendable {
        case sequence(UInt64)
        /// µs since the Unix epoch.
        case time(Int64)
    }

    /// The state folded up to `point`, and the moment token validity is judged at (the
    /// recorded time of the last record folded, or the requested time).
    public static func state(_ log: any EventStore, at point: Point) async throws -> (
        ReplayedState, moment: Int64
    ) {
        var replayed = ReplayedState()
        switch point {
        case .sequence(let n):
            let head = try await log.head()
            guard n <= head.sequence else {
                throw ToolError("the log has \(head.sequence) records; there is no sequence \(n)")
            }
            try await replayed.fold(log, through: n)
            return (replayed, replayed.head.recordedAt)
        case .time(let t):
            try await replayed.fold(log, stopAt: t)
            return (replayed, t)
        }
    }

    /// Parses `--time`: RFC 3339 (`2026-11-29T10:00:00Z`, fractions allowed) or Unix seconds.
    public static func parseTime(_ text: String) throws -> Int64 {
        if let seconds = Double(text), seconds.isFinite {
            return Int64((seconds * 1_000_000).rounded())
        }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) ?? ISO8601DateFormatter().date(from: text) {
            return Int64((date.timeIntervalSince1970 * 1_000_000).rounded())
        }
        throw ToolError("time '\(text)' is neither RFC 3339 nor Unix seconds")
    }

    /// The state as JSON (shape in tools/README.md): instances sorted by id, tokens by serial.
    public static func stateJSON(
        _ replayed: ReplayedState, moment: Int64, instance only: InstanceID? = nil
    ) -> String {
        var all = [UInt8]()
        writeStateJSON(replayed, moment: moment, instance: only) { all += $0 }
        return String(decoding: all, as: UTF8.self)
    }

    /// ``stateJSON(_:moment:instance:)`` handed to `write` in chunks of about 1 MiB, so a
    /// million tokens never sit in memory twice.
    public static func writeStateJSON(
        _ replayed: ReplayedState, moment: Int64, instance only: InstanceID? = nil,
        write: ([UInt8]) -> Void
    ) {
        var out = [UInt8]()
        out.reserveCapacity(1 << 20)
        out.append(UInt8(ascii: "{"))
        JSONWriter.key("sequence", first: true, into: &out)
        JSONWriter.integer(replayed.head.sequence, into: &out)
        JSONWriter.key("hash", into: &out)
        JSONWriter.quote(replayed.head.hash.hex, into: &out)
        JSONWriter.key("at_us", into: &out)
        JSONWriter.integer(moment, into: &out)
        JSONWriter.key("digest", into: &out)
        JSONWriter.quote(StateDigest.hex(of: replayed.state), into: &out)
        JSONWriter.key("instances", into: &out)
        out.append(UInt8(ascii: "["))
        let ids = replayed.state.instances.keys.sorted().filter { only == nil || $0 == only }
        for (n, id) in ids.enumerated() {
            let s = replayed.state[id]!
            if n > 0 { out.append(UInt8(ascii: ",")) }
            // Every field but the tokens, then the tokens streamed after them.
            var head = JSONWriter.objectBytes { w in
                w.string("id", id.rawValue)
                w.string("name", s.name)
                w.raw("auth", EventJSON.auth(s.auth))
                w.number("credential_generation", s.credentialGeneration)
                w.string("email", s.email)
                w.string("phone_number", s.phoneNumber)
                if case .deleted(let at) = s.lifecycle {
                    w.number("deleted_at_us", at)
                } else {
                    w.raw("deleted_at_us", "null")
                }
            }
            head.removeLast()  // the closing brace
            out += head
            JSONWriter.key("tokens", into: &out)
            out.append(UInt8(ascii: "["))
            for (i, token) in s.tokens.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                appendToken(token, moment: moment, into: &out)
                if out.count >= 1 << 20 {
                    write(out)
                    out.removeAll(keepingCapacity: true)
                }
            }
            out.append(contentsOf: [UInt8(ascii: "]"), UInt8(ascii: "}")])
        }
        out.append(contentsOf: [UInt8(ascii: "]"), UInt8(ascii: "}")])
        write(out)
    }

    /// Every scope's wire name, quoted, at `rawValue * 2 + (refreshable ? 1 : 0)`.
    static let quotedScopes: [[UInt8]] =
        (0..<((Int(Scope.allCases.map(\.rawValue).max()!) + 1) * 2)).map { i in
            guard let scope = Scope(rawValue: UInt8(i / 2)) else { return [] }
            var out = [UInt8]()
            JSONWriter.quote(TokenScope(scope, refreshable: i % 2 == 1).wireName, into: &out)
            return out
        }

    /// One token of `state-at --json`, written straight into `out` (a million of them must not
    /// cost a million intermediate arrays).
    static func appendToken(_ t: TokenRecord, moment: Int64, into out: inout [UInt8]) {
        func put(_ text: StaticString) { text.withUTF8Buffer { out.append(contentsOf: $0) } }
        put(#"{"serial":"#)
        JSONWriter.integer(t.serial.rawValue, into: &out)
        put(#","scope":"#)
        out += quotedScopes[Int(t.scope.rawValue) * 2 + (t.refreshable ? 1 : 0)]
        put(
            t.refreshable
                ? #","refreshable":true,"creation_time":"#
                : #","refreshable":false,"creation_time":"#)
        TalerTimestamp(micros: t.createdAt).append(into: &out)
        put(#","expiration":"#)
        TalerTimestamp(micros: EventJSON.expiration(t.expiry)).append(into: &out)
        put(#","status":"#)
        switch t.status(at: moment) {
        case .valid: put(#""valid","revoked_at_us":"#)
        case .expired: put(#""expired","revoked_at_us":"#)
        case .revoked: put(#""revoked","revoked_at_us":"#)
        }
        if let revoked = t.revokedAt {
            JSONWriter.integer(revoked, into: &out)
        } else {
            put("null")
        }
        put(#","description":"#)
        if let d = t.description { JSONWriter.quote(d, into: &out) } else { put("null") }
        put("}")
    }

    /// The state as a table for people.
    public static func stateTable(
        _ replayed: ReplayedState, moment: Int64, instance only: InstanceID? = nil
    ) -> String {
        var out = "state at sequence \(replayed.head.sequence) (\(formatTime(moment)))\n"
        out += "digest \(StateDigest.hex(of: replayed.state))\n"
        for id in replayed.state.instances.keys.sorted() where only == nil || id == only {
            let s = replayed.state[id]!
            let deleted = s.isActive ? "" : " (deleted)"
            out +=
                "\ninstance \(id)\(deleted): \(s.name), auth \(s.auth.method), generation \(s.credentialGeneration)\n"
            out += "  serial  status   scope                      created               expires\n"
            for t in s.tokens {
                let expires = EventJSON.expiration(t.expiry).map(formatTime) ?? "never"
                out +=
                    "  " + pad(String(t.serial.rawValue), 7) + " "
                    + pad(EventJSON.status(t.status(at: moment)), 8)
                    + " " + pad(t.tokenScope.wireName, 26) + " " + pad(formatTime(t.createdAt), 21)
                    + " " + expires + "\n"
            }
        }
        return out
    }

    static func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
    }

    /// `YYYY-MM-DDThh:mm:ssZ` (UTC) of a time in µs, computed directly (the table of a
    /// million tokens formats two million times).
    static func formatTime(_ micros: Int64) -> String {
        let seconds = micros >= 0 ? micros / 1_000_000 : (micros - 999_999) / 1_000_000
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        // Days to civil date (proleptic Gregorian), after Howard Hinnant's algorithm.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        func two(_ n: Int64) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return
            "\(year)-\(two(month))-\(two(day))T\(two(secondOfDay / 3_600)):\(two(secondOfDay / 60 % 60)):"
            + "\(two(secondOfDay % 60))Z"
    }

    // MARK: backup

    /// What ``backup(_:to:)`` did.
    public struct BackupReport: Sendable {
        public var head: LogHead
        public var bytes: Int
        public var seconds: Double
        /// Set when group or others can read `dest` (see ``DataDirectory/prepare(_:)``).
        public var warning: String?
    }

    /// A compacted, consistent copy of the live log into the new or empty directory `dest`,
    /// created `0700` with its files `0600` whatever the umask (spec §10.6); an existing `dest`
    /// that group or others can write is refused, one they can read is used with a warning.
    /// The copy's newest record is checked against the source's record at that sequence; with
    /// `verify`, the whole copy is verified too (chain, indexes, checkpoints) before it returns.
    public static func backup(_ dataDir: String, to dest: String, verify: Bool = false) throws
        -> BackupReport
    {
        let started = ContinuousClock.now
        let source = try open(dataDir)
        let fm = FileManager.default
        if fm.fileExists(atPath: dest) {
            guard (try? fm.contentsOfDirectory(atPath: dest))?.isEmpty ?? false else {
                throw ToolError("\(dest) is not empty: backup needs a new or empty directory")
            }
        }
        let warning: String?
        do { warning = try DataDirectory.prepare(dest) } catch {
            throw ToolError("cannot back up into \(dest): \(error)")
        }
        do {
            try source.copy(to: dest)
        } catch {
            throw ToolError("backup to \(dest) failed: \(error)")
        }
        let copy = try open(dest)
        let head: LogHead
        do {
            head = try copy.head()
        } catch {
            throw ToolError("the backup's newest record does not check: \(error)")
        }
        if verify, let failure = try copy.verify().failure {
            throw ToolError("the backup does not verify: \(failure)")
        }
        // The copy is a snapshot of the source: its newest record must be the source's record.
        if head.sequence > 0 {
            guard let original = try source.read(from: head.sequence, limit: 1).first,
                original.hash == head.hash
            else { throw ToolError("the backup's newest record differs from the source's") }
        }
        let bytes = (try? fm.attributesOfItem(atPath: dest + "/data.mdb")[.size] as? Int) ?? 0
        let d = ContinuousClock.now - started
        return BackupReport(
            head: head, bytes: bytes,
            seconds: Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18,
            warning: warning)
    }

    // MARK: stats

    /// Counts for `stats`.
    public struct Stats: Sendable {
        public var eventsByType: [String: Int] = [:]
        public var records: UInt64 = 0
        public var instances = 0
        public var tokensValidNow = 0
        public var tokens = 0
        public var logBytes = 0
        public var firstRecordAt: Int64?
        public var lastRecordAt: Int64?
    }

    /// Counts what `log` holds; `logBytes` is the size of its storage when it can tell.
    public static func stats(_ log: any EventStore, now: Int64) async throws -> Stats {
        var stats = Stats()
        try await log.scan(from: 1, through: nil, verifyingChain: false) { view in
            stats.eventsByType[view.typeString, default: 0] += 1
            if stats.firstRecordAt == nil { stats.firstRecordAt = view.recordedAt }
            stats.lastRecordAt = view.recordedAt
            stats.records = view.sequence
        }
        let replayed = try await ReplayedState.load(log)
        stats.instances = replayed.state.instances.count
        for (_, s) in replayed.state.instances {
            stats.tokens += s.tokens.count
            if s.isActive {
                stats.tokensValidNow += s.tokens.filter { $0.status(at: now) == .valid }.count
            }
        }
        stats.logBytes = (log as? LMDBEventLog)?.storedBytes ?? 0
        return stats
    }

    public static func statsJSON(_ s: Stats) -> String {
        JSONWriter.object { w in
            w.number("records", s.records)
            w.object("events_by_type") { t in
                for (type, n) in s.eventsByType.sorted(by: { $0.key < $1.key }) {
                    t.number(dynamic: type, n)
                }
            }
            w.number("instances", s.instances)
            w.number("tokens", s.tokens)
            w.number("tokens_valid_now", s.tokensValidNow)
            w.number("log_bytes", s.logBytes)
            w.number("first_record_at_us", s.firstRecordAt)
            w.number("last_record_at_us", s.lastRecordAt)
        }
    }
}
