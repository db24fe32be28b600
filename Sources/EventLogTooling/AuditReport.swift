import EventLog
import Foundation
import TokenDomain
import TokenEngine

/// What `tallystick-log report` shows: whether the log verified, its size, time span and
/// signed tree heads, and per instance its tokens (from the state the server's own fold
/// rebuilds, as `state-at` does) with the history the state does not keep (credential
/// changes, challenges, login blocks: read from the records, as `explain` reads a token's).
/// ``html()`` renders it (`AuditReport+HTML.swift`).
///
/// Built in three reads: the verification the caller made (LMDB's `verify` or PostgreSQL's,
/// so the report says what `verify` says), one fold through the newest record that verified
/// (or the one before the damage), and one scan of the same records for the marks, which
/// skips token events without decoding them. Nothing secret is kept: a token appears with its
/// serial and the first hex digits of its hash, a challenge with its id and masked address,
/// a credential change as the fact; never a TAN, a TAN hash or a password hash.
///
/// Large instances are sampled, not dropped silently: the timeline draws at most
/// ``Options/timelineBars`` tokens (every n-th by serial) beside a band counting all of them,
/// and the table lists the newest ``Options/tableRows``; ``InstanceReport`` says how many
/// there were, and the page says so.
public struct AuditReport: Sendable {
    /// What to show, and the limits that keep a report of a million tokens small.
    public struct Options: Sendable {
        /// Only this instance (default: every instance).
        public var instance: InstanceID?
        /// Show what happened from this time on (µs; default: each instance's creation).
        public var from: Int64?
        /// Fold and show up to this time (µs; default: the newest record).
        public var to: Int64?
        /// Most token bars per instance timeline; more are sampled.
        public var timelineBars = 300
        /// Most tokens per instance table; the newest are listed.
        public var tableRows = 5_000
        /// Most marks (challenge steps, credential changes, ...) per instance timeline.
        public var timelineMarks = 3_000

        public init(instance: InstanceID? = nil, from: Int64? = nil, to: Int64? = nil) {
            self.instance = instance
            self.from = from
            self.to = to
        }
    }

    /// Something that happened to an instance, drawn as a mark on its timeline.
    public struct Mark: Sendable, Equatable {
        /// The kind, also the mark's CSS class and `data-kind` in the page.
        public enum Kind: String, Sendable, CaseIterable {
            case instanceCreated = "instance-created"
            case detailsUpdated = "details-updated"
            case credentialsChanged = "credentials-changed"
            case addressValidated = "address-validated"
            case instanceDeleted = "instance-deleted"
            case challengeCreated = "challenge-created"
            case challengeSent = "challenge-sent"
            case attemptFailed = "attempt-failed"
            case challengeSolved = "challenge-solved"
            case challengeConsumed = "challenge-consumed"
            case challengeExpired = "challenge-expired"
            case loginsBlocked = "logins-blocked"
            case loginsUnblocked = "logins-unblocked"
            case backendCredential = "backend-credential"
        }

        public var kind: Kind
        public var sequence: UInt64
        /// When (µs), as the event records it.
        public var at: Int64
        /// The challenge, for the `challenge-*` kinds.
        public var challenge: ChallengeID?
        /// The end of a login block.
        public var until: Int64?
        /// What happened, for people (no secret, addresses masked).
        public var text: String
    }

    /// One challenge of an instance, summed up from its steps in the window.
    public struct ChallengeSummary: Sendable {
        public var id: ChallengeID
        /// What it protects (`token-issue`, `credential-change`, ...).
        public var operation: String
        /// `email` or `sms`, and the address masked.
        public var channel: String
        public var maskedAddress: String
        public var createdAt: Int64?
        public var codesSent = 0
        public var failedAttempts = 0
        public var solvedAt: Int64?
        /// `used` or `expired`, and when; `nil` while open.
        public var ended: (how: String, at: Int64)?
    }

    /// One instance: its tokens, what the report shows of them, and its marks.
    public struct InstanceReport: Sendable {
        public var id: InstanceID
        public var name: String
        public var createdAt: Int64
        /// When it was deleted, if it was.
        public var deletedAt: Int64?
        /// The window shown: from, to (µs).
        public var window: (from: Int64, to: Int64)
        /// Every token of the state, by serial (`tokens[serial - 1]`).
        public var tokens: TokenTable
        /// Tokens alive at some time in the window.
        public var tokensInWindow: Int
        /// Indices into ``tokens`` drawn as bars, by serial.
        public var bars: [Int]
        /// Every how many tokens in the window one is drawn (1: all of them).
        public var barStride: Int
        /// Indices into ``tokens`` listed in the table, by serial.
        public var rows: [Int]
        /// Tokens alive at the start of each of ``liveBuckets`` equal slices of the window.
        public var live: [Int]
        /// Marks in the window, in log order (at most ``Options/timelineMarks``).
        public var marks: [Mark]
        /// Marks in the window, all of them (``marks`` may hold fewer).
        public var marksInWindow: Int
        /// Per UTC day (days since the Unix epoch): tokens minted and failed confirmations.
        public var daily: [(day: Int64, mints: Int, failedAttempts: Int)]
        /// Every challenge with a step in the window, in order of their first step.
        public var challenges: [ChallengeSummary]

        /// Slices of the window in ``live``.
        public static let liveBuckets = 200

        /// A token's status at `moment` as the page shows it: `valid`, `expired`, `revoked`,
        /// or `ended` when its instance was deleted while it was valid.
        public func status(of token: TokenRecord, at moment: Int64) -> String {
            let status = token.status(at: moment)
            if status == .valid, let deletedAt, deletedAt <= moment { return "ended" }
            return EventJSON.status(status)
        }

        /// The end of a token's life on the timeline (``AuditReport/end(of:deletedAt:)``).
        public func end(of token: TokenRecord) -> Int64 {
            AuditReport.end(of: token, deletedAt: deletedAt)
        }
    }

    /// The verification the report was made with.
    public var verification: VerificationReport
    /// The newest record of the log when the report was made.
    public var logHead: LogHead
    /// Bytes the log's storage holds, when the store can tell (LMDB).
    public var logBytes: Int?
    /// When the first and the newest record were recorded (µs).
    public var span: (first: Int64, last: Int64)?
    /// Every signed tree head of the log, oldest first, with the sequence that records it.
    public var treeHeads: [(sequence: UInt64, head: SignedTreeHead)]
    /// The last record folded: the state and marks shown are those up to here.
    public var foldedThrough: LogHead
    /// A record that verified but does not fold (the state then ends before it).
    public var foldFailure: ReplayedState.FoldFailure?
    /// The moment token status is judged at: `--to`, else the newest record folded.
    public var moment: Int64
    public var options: Options
    public var instances: [InstanceReport]

    /// The records the report may fold: through the newest that verified, or up to the
    /// first damaged one.
    static func foldLimit(_ verification: VerificationReport, head: LogHead) -> UInt64 {
        if let failure = verification.failure {
            return min(failure.sequence == 0 ? 0 : failure.sequence - 1, head.sequence)
        }
        return min(verification.head.sequence, head.sequence)
    }

    /// Builds the report of `log` from `verification`, which the caller made of the same log
    /// (``LogTool/verify(_:progress:)`` or PostgreSQL's `verify()`).
    /// - Throws: ``ToolError`` when ``Options/instance`` is not in the state; ``EventLogError``
    ///   when the log cannot be read.
    public static func build(
        _ log: any EventStore, verification: VerificationReport, options: Options = Options()
    ) async throws -> AuditReport {
        let head = try await log.head()
        let limit = foldLimit(verification, head: head)
        // The same fold as state-at; the records it folds were verified just before.
        var replayed = ReplayedState()
        var foldFailure: ReplayedState.FoldFailure?
        if limit > 0 {
            do {
                try await replayed.fold(
                    log, through: limit, stopAt: options.to, verifyingChain: false)
            } catch let failure as ReplayedState.FoldFailure {
                foldFailure = failure
                replayed = ReplayedState()
                if failure.sequence > 1 {
                    try await replayed.fold(
                        log, through: failure.sequence - 1, stopAt: options.to,
                        verifyingChain: false)
                }
            }
        }
        if let only = options.instance, replayed.state[only] == nil {
            throw ToolError("no instance \(only) in the log at that point")
        }
        let through = replayed.head.sequence
        var history = History(only: options.instance, state: replayed.state)
        if through > 0 {
            try await log.scan(from: 1, through: through, verifyingChain: false) { view in
                try history.add(view)
            }
        }
        let moment = options.to ?? replayed.head.recordedAt
        var treeHeads = [(sequence: UInt64, head: SignedTreeHead)]()
        for record in try await log.readStream(SignedTreeHead.stream, from: 1) {
            if let signed = SignedTreeHead(record: record) {
                treeHeads.append((record.sequence, signed))
            }
        }
        var first: EventRecord?
        if head.sequence > 0 { first = try await log.read(from: 1, limit: 1).first }
        var report = AuditReport(
            verification: verification, logHead: head,
            logBytes: (log as? LMDBEventLog)?.storedBytes,
            span: first.map { ($0.recordedAt, head.recordedAt) }, treeHeads: treeHeads,
            foldedThrough: replayed.head, foldFailure: foldFailure, moment: moment,
            options: options, instances: [])
        for id in replayed.state.instances.keys.sorted()
        where options.instance == nil || options.instance == id {
            report.instances.append(
                instanceReport(
                    replayed.state[id]!, marks: history.marks[id] ?? [], moment: moment,
                    options: options))
        }
        return report
    }

    /// The end of a token's life as the timeline draws it: its revocation, its instance's
    /// deletion, or its expiry, whichever came first (`Int64.max` for never).
    static func end(of token: TokenRecord, deletedAt: Int64?) -> Int64 {
        min(token.revokedAt ?? .max, deletedAt ?? .max, token.expiry.rawValue)
    }

    static func instanceReport(
        _ instance: InstanceState, marks allMarks: [Mark], moment: Int64, options: Options
    ) -> InstanceReport {
        var deletedAt: Int64?
        if case .deleted(let at) = instance.lifecycle { deletedAt = at }
        var from = options.from ?? instance.createdAt
        var to = moment
        if to <= from { to = from + 60_000_000 }
        if case .deleted(let at) = instance.lifecycle, options.to == nil, at > from {
            to = max(to, at)
        }
        from = min(from, to - 1)
        let tokens = instance.tokens
        var inWindow = [Int]()
        inWindow.reserveCapacity(tokens.count)
        var live = [Int](repeating: 0, count: InstanceReport.liveBuckets + 1)
        let width = Double(to - from)
        func bucket(_ t: Int64) -> Int {
            let b = Int(
                (Double(t - from) / width * Double(InstanceReport.liveBuckets)).rounded(.up))
            return max(0, min(InstanceReport.liveBuckets, b))
        }
        var mintsByDay = [Int64: Int]()
        for (index, token) in tokens.enumerated() {
            let end = end(of: token, deletedAt: deletedAt)
            // Issued in the window, or issued before it and still alive at its start.
            guard token.createdAt <= to, token.createdAt >= from || end > from else { continue }
            inWindow.append(index)
            // Alive at a bucket's start when created at or before it and ended after it.
            let first = bucket(token.createdAt)
            let stop = end == .max ? InstanceReport.liveBuckets + 1 : bucket(end)
            if first < stop {
                live[first] += 1
                if stop <= InstanceReport.liveBuckets { live[stop] -= 1 }
            }
            if token.createdAt >= from { mintsByDay[day(token.createdAt), default: 0] += 1 }
        }
        var running = 0
        for i in live.indices {
            running += live[i]
            live[i] = running
        }
        live.removeLast()
        let stride = max(1, (inWindow.count + options.timelineBars - 1) / options.timelineBars)
        let bars = Swift.stride(from: 0, to: inWindow.count, by: stride).map { inWindow[$0] }
        let rows = Array(inWindow.suffix(options.tableRows))
        var failedByDay = [Int64: Int]()
        let windowMarks = allMarks.filter { $0.at >= from && $0.at <= to }
        for mark in windowMarks where mark.kind == .attemptFailed {
            failedByDay[day(mark.at), default: 0] += 1
        }
        var daily = [(day: Int64, mints: Int, failedAttempts: Int)]()
        let firstDay = day(from)
        let lastDay = day(to)
        if lastDay - firstDay <= 3_660 {
            for d in firstDay...lastDay {
                daily.append((d, mintsByDay[d] ?? 0, failedByDay[d] ?? 0))
            }
        }
        return InstanceReport(
            id: instance.id, name: instance.name, createdAt: instance.createdAt,
            deletedAt: deletedAt, window: (from, to), tokens: tokens,
            tokensInWindow: inWindow.count, bars: bars, barStride: stride, rows: rows, live: live,
            marks: Array(windowMarks.prefix(options.timelineMarks)),
            marksInWindow: windowMarks.count, daily: daily,
            challenges: challengeSummaries(windowMarks, of: instance))
    }

    /// The challenges that `marks` take steps of, from those steps and the state.
    static func challengeSummaries(_ marks: [Mark], of instance: InstanceState)
        -> [ChallengeSummary]
    {
        var order = [ChallengeID]()
        var summaries = [ChallengeID: ChallengeSummary]()
        for mark in marks {
            guard let id = mark.challenge else { continue }
            if summaries[id] == nil {
                order.append(id)
                let c = instance.challenges[id]
                summaries[id] = ChallengeSummary(
                    id: id, operation: c.map { EventJSON.operationName($0.operation) } ?? "?",
                    channel: c?.channel.wireName ?? "?",
                    maskedAddress: c.map { TANCodes.mask($0.address, channel: $0.channel) } ?? "")
            }
            switch mark.kind {
            case .challengeCreated: summaries[id]!.createdAt = mark.at
            case .challengeSent: summaries[id]!.codesSent += 1
            case .attemptFailed: summaries[id]!.failedAttempts += 1
            case .challengeSolved: summaries[id]!.solvedAt = mark.at
            case .challengeConsumed: summaries[id]!.ended = ("used", mark.at)
            case .challengeExpired: summaries[id]!.ended = ("expired", mark.at)
            default: break
            }
        }
        return order.map { summaries[$0]! }
    }

    /// Days since the Unix epoch (UTC) of a time in µs.
    static func day(_ micros: Int64) -> Int64 {
        let seconds = micros >= 0 ? micros / 1_000_000 : (micros - 999_999) / 1_000_000
        return seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
    }
}

extension AuditReport {
    /// The marks of every instance, read from the records the fold took.
    struct History {
        let only: InstanceID?
        /// The state at the end, for what later challenge events do not repeat (operation,
        /// channel, address).
        let state: ServerState
        var marks: [InstanceID: [Mark]] = [:]
        private var lastStream: [UInt8] = []
        private var lastInstance: InstanceID?

        init(only: InstanceID?, state: ServerState) {
            self.only = only
            self.state = state
        }

        mutating func add(_ view: RecordView) throws {
            // Tokens come from the state; skip their events without decoding them.
            guard let tag = EventTag(bytes: view.type), tag != .tokenIssued,
                tag != .tokenRevoked
            else { return }
            let instance: InstanceID
            if let last = lastInstance,
                lastStream.withUnsafeBytes({ view.stream.hasSameBytes(as: $0) })
            {
                instance = last
            } else {
                guard let id = InstanceID(view.streamString) else { return }
                instance = id
                lastInstance = id
                lastStream = Array(view.stream)
            }
            if let only, only != instance { return }
            let event: DomainEvent
            do {
                event = try EventCodec.decode(tag: tag, payload: view.payload)
            } catch {
                // The fold decoded this record a moment ago: only a log changed since fails.
                throw ToolError("record \(view.sequence) does not decode: \(error)")
            }
            if case .instanceCreated = event {
                // A new instance, or one created again after a purge: its history starts here.
                marks[instance] = []
            }
            guard let mark = mark(event, instance: instance, sequence: view.sequence) else {
                return
            }
            marks[instance, default: []].append(mark)
        }

        /// How a challenge is named on the page: its operation, channel and masked address.
        func describe(_ id: ChallengeID, of instance: InstanceID) -> String {
            guard let c = state[instance]?.challenges[id] else { return "challenge \(id.rawValue)" }
            return
                "challenge \(id.rawValue) (\(EventJSON.operationName(c.operation)), "
                + "\(c.channel.wireName) to \(TANCodes.mask(c.address, channel: c.channel)))"
        }

        func mark(_ event: DomainEvent, instance: InstanceID, sequence: UInt64) -> Mark? {
            func make(
                _ kind: Mark.Kind, _ at: Int64, _ text: String, challenge: ChallengeID? = nil,
                until: Int64? = nil
            ) -> Mark {
                Mark(
                    kind: kind, sequence: sequence, at: at, challenge: challenge, until: until,
                    text: text)
            }
            switch event {
            case .instanceCreated(let e):
                return make(.instanceCreated, e.at, "instance created")
            case .instanceDetailsUpdated(let e):
                return make(.detailsUpdated, e.at, "name or addresses changed")
            case .instanceCredentialsChanged(let e):
                let how = if case .external = e.auth { "external (no checks)" } else { "password" }
                return make(
                    .credentialsChanged, e.at,
                    "credentials changed to \(how), generation \(e.generation)")
            case .instanceAddressValidated(let e):
                return make(
                    .addressValidated, e.at,
                    "\(e.channel.wireName) address \(TANCodes.mask(e.address, channel: e.channel)) validated"
                        + (e.challenge == nil ? " (vouched by the operator)" : ""))
            case .instanceDeleted(let e):
                return make(.instanceDeleted, e.at, "instance deleted")
            case .instancePurged:
                return nil
            case .tokenIssued, .tokenRevoked:
                return nil
            case .challengeCreated(let e):
                return make(
                    .challengeCreated, e.at,
                    "challenge \(e.id.rawValue) created for \(EventJSON.operationName(e.operation)), "
                        + "\(e.channel.wireName) to \(TANCodes.mask(e.address, channel: e.channel))",
                    challenge: e.id)
            case .challengeCodeTransmitted(let e):
                return make(
                    .challengeSent, e.at,
                    "code sent for \(describe(e.id, of: instance)), \(e.attempts) attempts",
                    challenge: e.id)
            case .challengeAttemptFailed(let e):
                return make(
                    .attemptFailed, e.at,
                    "wrong code for \(describe(e.id, of: instance)), \(e.attemptsLeft) attempts left",
                    challenge: e.id)
            case .challengeSolved(let e):
                return make(
                    .challengeSolved, e.at, "solved \(describe(e.id, of: instance))",
                    challenge: e.id)
            case .challengeConsumed(let e):
                return make(
                    .challengeConsumed, e.at,
                    "\(describe(e.id, of: instance)) used for \(EventJSON.operationName(e.operation))",
                    challenge: e.id)
            case .challengeExpired(let e):
                return make(
                    .challengeExpired, e.at, "\(describe(e.id, of: instance)) expired",
                    challenge: e.id)
            case .instanceLoginsBlocked(let e):
                return make(
                    .loginsBlocked, e.at,
                    "password logins blocked until \(LogTool.formatTime(e.until))", until: e.until)
            case .instanceLoginsUnblocked(let e):
                return make(.loginsUnblocked, e.at, "login block ended")
            case .backendCredentialSet(let e):
                return make(.backendCredential, e.at, "backend credential set (\(e.fingerprint))")
            case .backendCredentialRemoved(let e):
                return make(.backendCredential, e.at, "backend credential removed")
            case .merchantInstanceChanged:
                return nil
            }
        }
    }
}
