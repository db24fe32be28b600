import Crypto
import EventLog
import Foundation
import TokenDomain
import TokenEngine

/// The offline tools as library functions: `tallystick-log` is a thin command line over
/// these, and the tests call them directly. Every function opens the log read-only (safe
/// while a server writes it) except ``load(_:into:)``, which fills a new log.
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

    public static func verifyJSON(_ report: VerificationReport) -> String {
        JSONWriter.object { w in
            w.bool("valid", report.isValid)
            w.number("records", report.records)
            w.number("streams", report.streams)
            w.number("checkpoints", report.checkpoints)
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
        _ dataDir: String, from: UInt64 = 1, to: UInt64? = nil, progress: Progress? = nil,
        write: (String) -> Void
    ) throws -> Int {
        let log = try open(dataDir)
        var count = 0
        try log.scan(from: from, through: to, verifyingChain: false) { view in
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
        var configuration = LMDBEventLog.Configuration(directory: dataDir)
        configuration.durability = .unsafeNoSync  // restore flushes once at the end
        let log: LMDBEventLog
        do {
            log = try LMDBEventLog.open(configuration)
        } catch {
            throw ToolError("cannot create an event log in \(dataDir): \(error)")
        }
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
            try await log.restore(records)
        } catch {
            await log.close()
            throw parseError ?? ToolError("load stopped: \(error)")
        }
        let head = try log.head()
        await log.close()
        if let parseError { throw parseError }
        return head
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
    public static func state(_ dataDir: String, at point: Point) throws -> (
        ReplayedState, moment: Int64
    ) {
        let log = try open(dataDir)
        var replayed = ReplayedState()
        switch point {
        case .sequence(let n):
            let head = try log.head()
            guard n <= head.sequence else {
                throw ToolError("the log has \(head.sequence) records; there is no sequence \(n)")
            }
            try replayed.fold(log, through: n)
            return (replayed, replayed.head.recordedAt)
        case .time(let t):
            try replayed.fold(log, stopAt: t)
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

    /// `{"t_s": seconds}` or `{"t_s": "never"}`, as Taler writes timestamps.
    static func timestamp(_ micros: Int64?) -> String {
        guard let micros else { return #"{"t_s":"never"}"# }
        return #"{"t_s":\#(micros / 1_000_000)}"#
    }

    /// The state as JSON (shape in tools/README.md): instances sorted by id, tokens by serial.
    public static func stateJSON(
        _ replayed: ReplayedState, moment: Int64, instance only: InstanceID? = nil
    ) -> String {
        let ids = replayed.state.instances.keys.sorted().filter { only == nil || $0 == only }
        let instances = ids.map { id -> String in
            let s = replayed.state[id]!
            return JSONWriter.object { w in
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
                w.array("tokens", s.tokens.map { tokenJSON($0, moment: moment) })
            }
        }
        return JSONWriter.object { w in
            w.number("sequence", replayed.head.sequence)
            w.string("hash", replayed.head.hash.hex)
            w.number("at_us", moment)
            w.string("digest", StateDigest.hex(of: replayed.state))
            w.array("instances", instances)
        }
    }

    static func tokenJSON(_ t: TokenRecord, moment: Int64) -> String {
        JSONWriter.object { w in
            w.number("serial", t.serial.rawValue)
            w.string("scope", t.tokenScope.wireName)
            w.bool("refreshable", t.refreshable)
            w.raw("creation_time", timestamp(t.createdAt))
            w.raw("expiration", timestamp(EventJSON.expiration(t.expiry)))
            w.string("status", EventJSON.status(t.status(at: moment)))
            w.number("revoked_at_us", t.revokedAt)
            w.string("description", t.description)
        }
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

    static func formatTime(_ micros: Int64) -> String {
        let date = Date(timeIntervalSince1970: Double(micros) / 1_000_000)
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }

    // MARK: backup

    /// What ``backup(_:to:)`` did.
    public struct BackupReport: Sendable {
        public var head: LogHead
        public var bytes: Int
        public var seconds: Double
    }

    /// A compacted, consistent copy of the live log into the new or empty directory `dest`,
    /// verified end to end (chain, indexes, checkpoints) before it returns.
    public static func backup(_ dataDir: String, to dest: String) throws -> BackupReport {
        let started = ContinuousClock.now
        let source = try open(dataDir)
        let fm = FileManager.default
        if fm.fileExists(atPath: dest) {
            guard (try? fm.contentsOfDirectory(atPath: dest))?.isEmpty ?? false else {
                throw ToolError("\(dest) is not empty: backup needs a new or empty directory")
            }
        } else {
            do { try fm.createDirectory(atPath: dest, withIntermediateDirectories: true) } catch {
                throw ToolError("cannot create \(dest): \(error.localizedDescription)")
            }
        }
        do {
            try source.copy(to: dest)
        } catch {
            throw ToolError("backup to \(dest) failed: \(error)")
        }
        let copy = try open(dest)
        let report = try copy.verify()
        if let failure = report.failure {
            throw ToolError("the backup does not verify: \(failure)")
        }
        // The copy is a snapshot of the source: its newest record must be the source's record.
        if report.head.sequence > 0 {
            guard let original = try source.read(from: report.head.sequence, limit: 1).first,
                original.hash == report.head.hash
            else { throw ToolError("the backup's newest record differs from the source's") }
        }
        let bytes = (try? fm.attributesOfItem(atPath: dest + "/data.mdb")[.size] as? Int) ?? 0
        let d = ContinuousClock.now - started
        return BackupReport(
            head: report.head, bytes: bytes,
            seconds: Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18)
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

    public static func stats(_ dataDir: String, now: Int64) throws -> Stats {
        let log = try open(dataDir)
        var stats = Stats()
        try log.scan(from: 1, through: nil, verifyingChain: false) { view in
            stats.eventsByType[view.typeString, default: 0] += 1
            if stats.firstRecordAt == nil { stats.firstRecordAt = view.recordedAt }
            stats.lastRecordAt = view.recordedAt
            stats.records = view.sequence
        }
        let replayed = try ReplayedState.load(log)
        stats.instances = replayed.state.instances.count
        for (_, s) in replayed.state.instances {
            stats.tokens += s.tokens.count
            if s.isActive {
                stats.tokensValidNow += s.tokens.filter { $0.status(at: now) == .valid }.count
            }
        }
        stats.logBytes = log.storedBytes
        return stats
    }

    public static func statsJSON(_ s: Stats) -> String {
        JSONWriter.object { w in
            w.number("records", s.records)
            w.object("events_by_type") { t in
                for (type, n) in s.eventsByType.sorted(by: { $0.key < $1.key }) {
                    t.number(type, n)
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

    /// The SHA-256 of a presented token's secret, or `nil` when it is not a login token.
    static func hash(ofToken text: String) -> TokenHash? {
        guard let secret = LoginToken.decode(text) else { return nil }
        return SHA256.hash(data: secret).withUnsafeBytes { TokenHash($0) }
    }
}
