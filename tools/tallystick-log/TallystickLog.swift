import ArgumentParser
import EventLog
import EventLogPostgres
import EventLogTooling
import Foundation
import TokenDomain

@main
struct TallystickLog: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tallystick-log",
        abstract:
            "Offline tools for Tallystick's event log: verify, dump, load, replay, explain, report, back up.",
        discussion: """
            Every subcommand but load opens the log read-only: safe while the server runs, never
            blocking it. Exit status 0 on success; on failure one line on standard error and 1.
              tallystick-log verify --data-dir /var/lib/tallystick
              tallystick-log state-at --time 2026-11-29T10:00:00Z --instance shop --json
            """,
        subcommands: [
            Verify.self, Dump.self, Load.self, StateAt.self, Explain.self, Report.self, Stats.self,
            Backup.self,
            PublicKeyCommand.self, Prove.self, CheckProof.self, ProveConsistency.self,
            CheckConsistency.self, TreeHeads.self,
        ])
}

struct Common: ParsableArguments {
    @Option(help: "The event log's directory.")
    var dataDir = "eventlog/data"
    @Option(
        help:
            "A PostgreSQL store instead (tallystick's store setting: postgres://USER@/DB?host=/dir or postgres://USER:PW@HOST:PORT/DB)."
    )
    var store: String?

    /// Runs `body` with the log of `--store` or `--data-dir`, and closes it.
    func withLog<T>(_ body: (any EventStore) async throws -> T) async throws -> T {
        if let store { return try await Common.closing(Common.openPostgres(store), body) }
        return try await Common.closing(LogTool.open(dataDir), body)
    }

    static func openPostgres(_ store: String) async throws -> PostgresEventLog {
        do {
            return try await PostgresEventLog.open(url: store)
        } catch {
            throw ToolError("cannot open the PostgreSQL store: \(error)")
        }
    }

    /// Runs `body` with `log`, then closes it.
    static func closing<L: EventStore, T>(_ log: L, _ body: (L) async throws -> T) async throws
        -> T
    {
        do {
            let value = try await body(log)
            await log.close()
            return value
        } catch {
            await log.close()
            throw error
        }
    }
}

/// Runs `body`, turning a tool failure into one line on standard error and exit status 1.
func reporting(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as ToolError {
        FileHandle.standardError.write(Data("tallystick-log: \(error.message)\n".utf8))
        throw ExitCode(1)
    } catch let error as ExitCode {
        throw error
    } catch {
        FileHandle.standardError.write(Data("tallystick-log: \(error)\n".utf8))
        throw ExitCode(1)
    }
}

func now() -> Int64 { SystemLogClock().nowMicroseconds() }

/// One `tallystick-log: warning: ...` line on standard error.
func warn(_ message: String) {
    FileHandle.standardError.write(Data("tallystick-log: warning: \(message)\n".utf8))
}

struct Verify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Check sequence contiguity, the hash chain, every record, the indexes and the checkpoints (each one's state against a fold of the log).",
        discussion:
            "Example: tallystick-log verify --data-dir eventlog/data\nOn a break it names the first bad sequence."
    )
    @OptionGroup var common: Common
    @Flag(help: "Print the report as JSON.") var json = false
    @Option(
        help:
            "Also check every signed tree head: its signature with this key (64 hex digits or a file, from tallystick-log public-key) and its root against the records."
    )
    var publicKey: String?

    func run() async throws {
        try await reporting {
            let key = try publicKey.map { try LogTool.publicKey($0) }
            var report: VerificationReport
            if common.store != nil {
                report = try await common.withLog { log in
                    try await (log as! PostgresEventLog).verify()
                }
            } else {
                let newest = (try? LogTool.open(common.dataDir).head().sequence) ?? 0
                report = try LogTool.verify(
                    common.dataDir, progress: Progress(label: "verify", total: newest))
            }
            let checkpoint = try await common.withLog { log in
                try await LogTool.checkpointSequence(log)
            }
            if report.isValid {
                report.failure = try await common.withLog { log in
                    try await LogTool.verifyCheckpointState(log)
                }
            }
            if json {
                print(LogTool.verifyJSON(report, checkpointSequence: checkpoint))
            } else if report.isValid {
                print(
                    "ok: \(report.records) records in \(report.streams) streams, \(report.checkpoints) checkpoints"
                )
                print("head \(report.head.sequence) \(report.head.hash.hex)")
            }
            if let failure = report.failure {
                throw ToolError(
                    "log does not verify at sequence \(failure.sequence): \(failure.reason)")
            }
            guard let key else { return }
            let heads = try await common.withLog { log in
                try await LogTool.verifyTreeHeads(log, key: key)
            }
            if let failure = heads.failure {
                throw ToolError(
                    "tree heads do not verify at sequence \(failure.sequence): \(failure.reason)")
            }
            if !json { print("ok: \(heads.heads) signed tree heads match the records") }
        }
    }
}

struct Dump: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the log as JSON lines, one record per line with every envelope field.",
        discussion: "Example: tallystick-log dump --from 100 --to 200 > part.jsonl")
    @OptionGroup var common: Common
    @Option(help: "First sequence.") var from: UInt64 = 1
    @Option(help: "Last sequence (default: the newest).") var to: UInt64?

    func run() async throws {
        try await reporting {
            try await common.withLog { log in
                let newest = (try? await log.head().sequence) ?? 0
                var out = FileHandleOutput()
                try await LogTool.dump(
                    log, from: from, to: to,
                    progress: Progress(label: "dump", total: to ?? newest)
                ) { out.write($0) }
                out.flush()
            }
        }
    }
}

/// Buffered standard output.
struct FileHandleOutput {
    private var buffer = [UInt8]()
    mutating func write(_ line: String) {
        buffer.append(contentsOf: line.utf8)
        buffer.append(UInt8(ascii: "\n"))
        if buffer.count > 1 << 20 { flush() }
    }
    mutating func flush() {
        FileHandle.standardOutput.write(Data(buffer))
        buffer.removeAll(keepingCapacity: true)
    }
}

struct Load: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Load a dump into a new or empty data directory (or an empty PostgreSQL store), checking every hash.",
        discussion: """
            Examples: tallystick-log dump | tallystick-log load --data-dir /tmp/copy
                      tallystick-log dump | tallystick-log load --store postgres://ts@/events?host=/run/postgresql
            """)
    @OptionGroup var common: Common
    @Argument(help: "The dump to read (default: standard input).") var file: String?

    func run() async throws {
        try await reporting {
            let lines: AnySequence<String>
            if let file {
                guard let handle = FileHandle(forReadingAtPath: file) else {
                    throw ToolError("cannot read \(file)")
                }
                lines = AnySequence(LineReader(handle: handle))
            } else {
                lines = AnySequence(LineReader(handle: .standardInput))
            }
            if let store = common.store {
                let head = try await Common.closing(Common.openPostgres(store)) { postgres in
                    do {
                        try await LogTool.load(lines) { try await postgres.restore($0) }
                    } catch let error as ToolError {
                        throw error
                    } catch {
                        throw ToolError("load stopped: \(error)")
                    }
                    return try await postgres.head()
                }
                print("loaded \(head.sequence) records; head \(head.hash.hex)")
                return
            }
            let warning: String?
            do { warning = try DataDirectory.prepare(common.dataDir) } catch {
                throw ToolError("cannot load into \(common.dataDir): \(error)")
            }
            if let warning { warn(warning) }
            let head = try await LogTool.load(lines, into: common.dataDir)
            print("loaded \(head.sequence) records; head \(head.hash.hex)")
        }
    }
}

/// Lines of a file handle, read in chunks.
struct LineReader: Sequence, IteratorProtocol {
    let handle: FileHandle
    private var buffer = [UInt8]()
    private var offset = 0
    private var done = false

    init(handle: FileHandle) { self.handle = handle }

    mutating func next() -> String? {
        while true {
            if let newline = buffer[offset...].firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[offset..<newline], as: UTF8.self)
                offset = newline + 1
                return line
            }
            if done {
                guard offset < buffer.count else { return nil }
                let line = String(decoding: buffer[offset...], as: UTF8.self)
                offset = buffer.count
                return line
            }
            buffer.removeFirst(offset)
            offset = 0
            let chunk = handle.readData(ofLength: 1 << 20)
            if chunk.isEmpty { done = true } else { buffer.append(contentsOf: chunk) }
        }
    }
}

struct StateAt: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "state-at",
        abstract: "The state at a sequence or a moment, rebuilt with the server's own fold.",
        discussion: """
            Token validity is judged at that moment (the recorded time of the last record for
            --sequence). Examples:
              tallystick-log state-at --sequence 1200 --instance shop
              tallystick-log state-at --time 1764410400 --json
            """)
    @OptionGroup var common: Common
    @Option(help: "Replay through this sequence.") var sequence: UInt64?
    @Option(help: "Replay every record recorded up to this time (RFC 3339 or Unix seconds).")
    var time: String?
    @Option(help: "Show only this instance.") var instance: String?
    @Flag(help: "Print JSON instead of a table.") var json = false

    func validate() throws {
        guard (sequence == nil) != (time == nil) else {
            throw ValidationError("give exactly one of --sequence and --time")
        }
    }

    func run() async throws {
        try await reporting {
            let only = try instance.map { text -> InstanceID in
                guard let id = InstanceID(text) else {
                    throw ToolError("'\(text)' is not an instance id")
                }
                return id
            }
            let point: LogTool.Point =
                try sequence.map { .sequence($0) } ?? .time(LogTool.parseTime(time!))
            let (state, moment) = try await common.withLog { log in
                try await LogTool.state(log, at: point)
            }
            if let only, state.state[only] == nil {
                throw ToolError("no instance \(only) at that point")
            }
            if json {
                LogTool.writeStateJSON(state, moment: moment, instance: only) {
                    FileHandle.standardOutput.write(Data($0))
                }
                FileHandle.standardOutput.write(Data([10]))
            } else {
                print(LogTool.stateTable(state, moment: moment, instance: only), terminator: "")
            }
        }
    }
}

struct Explain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "The whole story of one token: how it was minted, what was minted from it, how it ended.",
        discussion: """
            With --token only the SHA-256 of the secret is looked up. Examples:
              tallystick-log explain --instance shop --serial 3
              tallystick-log explain --instance shop --token secret-token:... --json
            """)
    @OptionGroup var common: Common
    @Option(help: "The instance.") var instance: String
    @Option(help: "The token's serial.") var serial: UInt64?
    @Option(help: "The token itself (secret-token:...).") var token: String?
    @Flag(help: "Print JSON.") var json = false
    @Flag(
        help:
            "Attach to each event of the story a proof against the newest signed tree head (check with check-proof)."
    )
    var proof = false

    func validate() throws {
        guard (serial == nil) != (token == nil) else {
            throw ValidationError("give exactly one of --serial and --token")
        }
    }

    func run() async throws {
        try await reporting {
            guard let id = InstanceID(instance) else {
                throw ToolError("'\(instance)' is not an instance id")
            }
            let (story, proofs) = try await common.withLog { log in
                let story = try await TokenStory.find(
                    in: log, instance: id, serial: serial.map { TokenSerial($0) }, token: token)
                return (story, proof ? try await story.proofs(in: log) : nil)
            }
            if let proofs, json {
                print(story.json(now: now(), proofs: proofs))
            } else {
                print(
                    json ? story.json(now: now()) : story.text(now: now()),
                    terminator: json ? "\n" : "")
                for (sequence, bundle) in proofs ?? [] {
                    print(
                        bundle.map { "proof of record \(sequence): \($0.json)" }
                            ?? "record \(sequence): not yet covered by a signed tree head")
                }
            }
        }
    }
}

struct Report: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "An audit report as one self-contained HTML page: verification, timelines, tokens.",
        discussion: """
            The page needs nothing but a browser (no network, fonts or scripts from elsewhere)
            and prints. It says whether the log verifies (or names the first bad sequence and
            shows the log before it), and per instance draws its tokens from issue to expiry or
            revocation with their refresh lineage, its credential changes, challenges and login
            blocks, lists the tokens with a filter box and counts mints and failed confirmations
            per day. No TAN, password hash or whole token hash is shown. A damaged log still
            gets its report, then the exit status is 1. Examples:
              tallystick-log report --html audit.html
              tallystick-log report --html shop.html --instance shop --from 2026-11-28T00:00:00Z --to 2026-11-29T12:00:00Z
            """)
    @OptionGroup var common: Common
    @Option(help: "Write the page here (- for standard output).") var html: String
    @Option(help: "Show only this instance.") var instance: String?
    @Option(help: "Show what happened from this time on (RFC 3339 or Unix seconds).")
    var from: String?
    @Option(help: "Replay and show up to this time (RFC 3339 or Unix seconds).") var to: String?

    func run() async throws {
        try await reporting {
            var options = AuditReport.Options()
            options.instance = try instance.map { text -> InstanceID in
                guard let id = InstanceID(text) else {
                    throw ToolError("'\(text)' is not an instance id")
                }
                return id
            }
            options.from = try from.map(LogTool.parseTime)
            options.to = try to.map(LogTool.parseTime)
            if let from = options.from, let to = options.to, from >= to {
                throw ToolError("--from must be before --to")
            }
            // As verify does: LMDB's verify opens the log itself (before the report reads it),
            // PostgreSQL's runs on the store.
            let lmdbVerification = try common.store == nil ? LogTool.verify(common.dataDir) : nil
            let report = try await common.withLog { log in
                var verification = lmdbVerification
                if verification == nil {
                    verification = try await (log as! PostgresEventLog).verify()
                }
                return try await AuditReport.build(
                    log, verification: verification!, options: options)
            }
            let page = Data(report.html().utf8)
            if html == "-" {
                FileHandle.standardOutput.write(page)
            } else if !FileManager.default.createFile(atPath: html, contents: page) {
                throw ToolError("cannot write \(html)")
            }
            if let failure = report.verification.failure {
                throw ToolError(
                    "log does not verify at sequence \(failure.sequence): \(failure.reason); the report shows the log before it"
                )
            }
            if let failure = report.foldFailure {
                throw ToolError("\(failure); the report shows the log before it")
            }
        }
    }
}

struct Stats: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Events by type, instances, tokens valid now, log size, first and last record time.",
        discussion: "Example: tallystick-log stats --json")
    @OptionGroup var common: Common
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        try await reporting {
            let s = try await common.withLog { log in try await LogTool.stats(log, now: now()) }
            if json {
                print(LogTool.statsJSON(s))
                return
            }
            print("records          \(s.records)")
            for (type, n) in s.eventsByType.sorted(by: { $0.key < $1.key }) {
                print("  \(type): \(n)")
            }
            print("instances        \(s.instances)")
            print("tokens           \(s.tokens) (\(s.tokensValidNow) valid now)")
            print("log size         \(s.logBytes) bytes")
            if let first = s.firstRecordAt, let last = s.lastRecordAt {
                print("first record     \(Date(timeIntervalSince1970: Double(first) / 1e6))")
                print("last record      \(Date(timeIntervalSince1970: Double(last) / 1e6))")
            }
        }
    }
}

struct Backup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "A compacted, consistent hot copy into a new directory, verified before it returns.",
        discussion: "Example: tallystick-log backup /backups/tallystick-2026-11-29")
    @OptionGroup var common: Common
    @Argument(help: "A new or empty directory.") var destination: String
    @Flag(help: "Also verify the whole copy (chain, indexes, checkpoints) before returning.")
    var verify = false

    func run() async throws {
        try await reporting {
            guard common.store == nil else {
                throw ToolError(
                    "back a PostgreSQL store up with PostgreSQL's tools: pg_dump --format=custom DB (a consistent copy), or pg_basebackup with WAL archiving (to any moment); tallystick-log dump --store URL writes a portable copy that load reads into LMDB"
                )
            }
            let report = try LogTool.backup(common.dataDir, to: destination, verify: verify)
            if let warning = report.warning { warn(warning) }
            print(
                "backed up \(report.head.sequence) records (\(report.bytes) bytes) in "
                    + String(format: "%.2f s", report.seconds) + "; head \(report.head.hash.hex)")
        }
    }
}

struct PublicKeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "public-key",
        abstract: "Print the public key that checks the log's signed tree heads (64 hex digits).",
        discussion: """
            Reads tree-head.key in the key directory (the server's key-dir, by default the data
            directory) and prints only its public half. Publish it: auditors check proofs with it.
              tallystick-log public-key --key-dir /var/lib/tallystick > tallystick.pub
            """)
    @Option(help: "The directory of tree-head.key.") var keyDir = "eventlog/data"

    func run() async throws {
        try await reporting { print(try LogTool.publicKey(keyDirectory: keyDir)) }
    }
}

struct Prove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Write a self-contained proof that a record is in the log: the record, its audit path, the signed tree head.",
        discussion: """
            Check it anywhere with check-proof and the public key, without the log. Example:
              tallystick-log prove --sequence 42 > record-42.proof.json
              tallystick-log prove --sequence 42 --tree-size 1000
            """)
    @OptionGroup var common: Common
    @Option(help: "The record's sequence.") var sequence: UInt64
    @Option(help: "Prove against the signed head of this size (default: the newest).")
    var treeSize: UInt64?

    func run() async throws {
        try await reporting {
            let proof = try await common.withLog { log in
                try await LogTool.prove(log, sequence: sequence, treeSize: treeSize)
            }
            print(proof.json)
        }
    }
}

/// The contents of `path`, or of standard input for `-`.
func readDocument(_ path: String) throws -> String {
    if path == "-" {
        return String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
    }
    guard let data = FileManager.default.contents(atPath: path) else {
        throw ToolError("cannot read \(path)")
    }
    return String(decoding: data, as: UTF8.self)
}

struct CheckProof: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-proof",
        abstract: "Check a proof written by prove, with the public key alone (no log needed).",
        discussion: """
            Prints the proved record as a dump line and exits 0, or names what does not hold
            and exits 1. Example:
              tallystick-log check-proof record-42.proof.json --public-key tallystick.pub
            """)
    @Argument(help: "The proof (- for standard input).") var bundle: String
    @Option(help: "The log's public key: 64 hex digits or a file holding them.")
    var publicKey: String

    func run() async throws {
        try await reporting {
            let key = try LogTool.publicKey(publicKey)
            let (record, head) = try LogTool.checkProof(try readDocument(bundle), key: key)
            print(
                "ok: record \(record.sequence) is in the signed tree of size \(head.treeSize) (root \(head.root.hex))"
            )
            print(RecordJSON.line(record))
        }
    }
}

struct ProveConsistency: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prove-consistency",
        abstract:
            "Write a proof that the signed tree head of size --to extends the one of size --from.",
        discussion: """
            Both sizes must be of signed heads (see tree-heads). Example:
              tallystick-log prove-consistency --from 1000 --to 2000 > 1000-2000.json
            """)
    @OptionGroup var common: Common
    @Option(help: "The older signed head's tree size.") var from: UInt64
    @Option(help: "The newer signed head's tree size.") var to: UInt64

    func run() async throws {
        try await reporting {
            let proof = try await common.withLog { log in
                try await LogTool.proveConsistency(log, from: from, to: to)
            }
            print(proof.json)
        }
    }
}

struct CheckConsistency: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-consistency",
        abstract:
            "Check a proof written by prove-consistency, with the public key alone (no log needed).",
        discussion: """
            Example:
              tallystick-log check-consistency 1000-2000.json --public-key tallystick.pub
            """)
    @Argument(help: "The proof (- for standard input).") var bundle: String
    @Option(help: "The log's public key: 64 hex digits or a file holding them.")
    var publicKey: String

    func run() async throws {
        try await reporting {
            let key = try LogTool.publicKey(publicKey)
            let proof = try LogTool.checkConsistency(try readDocument(bundle), key: key)
            print(
                "ok: the signed tree of size \(proof.second.treeSize) extends the one of size \(proof.first.treeSize)"
            )
        }
    }
}

struct TreeHeads: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tree-heads",
        abstract: "Print every signed tree head as a JSON line, oldest first, for publishing.",
        discussion: """
            Each line: {"tree_size","root_hash","timestamp_us","key_id","signature"}. Example:
              tallystick-log tree-heads > heads.jsonl
            """)
    @OptionGroup var common: Common

    func run() async throws {
        try await reporting {
            try await common.withLog { log in
                var out = FileHandleOutput()
                try await LogTool.treeHeads(log) { out.write($0) }
                out.flush()
            }
        }
    }
}
