import EventLogTestSupport
import Foundation
import LMDB
import Testing
import TextCoding
import TokenDomain
import TokenEngine

@testable import EventLog
@testable import EventLogTooling

@Suite("Offline tools")
struct LogToolTests {
    func dumpText(_ dir: String) async throws -> String {
        var out = ""
        try await LogTool.dump(try LogTool.open(dir)) { out += $0 + "\n" }
        return out
    }

    func lines(_ text: String) -> [String] { text.split(separator: "\n").map(String.init) }

    /// The golden files: a dump made by the real engine and state-at outputs of it. With
    /// TALLYSTICK_REGENERATE_FIXTURES=1 this writes them anew; otherwise it checks them.
    @Test func goldenFixturesLoadVerifyAndReproduce() async throws {
        let tmp = try TemporaryDirectory(prefix: "golden")
        defer { tmp.remove() }
        let dumpFile = fixtures.appendingPathComponent("small.jsonl")
        let stateBySequence = fixtures.appendingPathComponent("small.state-at-sequence-8.json")
        let stateByTime = fixtures.appendingPathComponent("small.state-at-time.json")
        let momentText = "2026-09-21T14:18:00Z"
        if ProcessInfo.processInfo.environment["TALLYSTICK_REGENERATE_FIXTURES"] == "1" {
            _ = try await Workload.run(in: tmp.appending("made"))
            try await dumpText(tmp.appending("made")).write(
                to: dumpFile, atomically: true, encoding: .utf8)
        }
        let golden = try String(contentsOf: dumpFile, encoding: .utf8)
        let head = try await LogTool.load(lines(golden), into: tmp.appending("loaded"))
        let report = try LogTool.verify(tmp.appending("loaded"))
        #expect(report.isValid)
        #expect(report.head == head)
        #expect(try await dumpText(tmp.appending("loaded")) == golden)

        let (bySequence, m1) = try await LogTool.state(
            try LogTool.open(tmp.appending("loaded")), at: .sequence(8))
        let (byTime, m2) = try await LogTool.state(
            try LogTool.open(tmp.appending("loaded")), at: .time(try LogTool.parseTime(momentText)))
        let outputs = [
            (stateBySequence, LogTool.stateJSON(bySequence, moment: m1) + "\n"),
            (stateByTime, LogTool.stateJSON(byTime, moment: m2) + "\n"),
        ]
        for (file, text) in outputs {
            if ProcessInfo.processInfo.environment["TALLYSTICK_REGENERATE_FIXTURES"] == "1" {
                try text.write(to: file, atomically: true, encoding: .utf8)
            }
            #expect(
                try String(contentsOf: file, encoding: .utf8) == text, "\(file.lastPathComponent)")
        }
    }

    @Test func stateAtEveryBoundaryEqualsTheLiveEngineThen() async throws {
        let tmp = try TemporaryDirectory(prefix: "boundary")
        defer { tmp.remove() }
        let workload = try await Workload.run(in: tmp.appending("log"))
        #expect(workload.checkpoints.count >= 10)
        for (sequence, digest) in workload.checkpoints {
            let (replayed, _) = try await LogTool.state(
                try LogTool.open(tmp.appending("log")), at: .sequence(sequence))
            #expect(StateDigest.hex(of: replayed.state) == digest, "at sequence \(sequence)")
        }
    }

    @Test func tamperedCopiesAreRejectedAtTheRightSequence() async throws {
        let tmp = try TemporaryDirectory(prefix: "tamper")
        defer { tmp.remove() }
        let golden = try String(
            contentsOf: fixtures.appendingPathComponent("small.jsonl"), encoding: .utf8)
        let records = lines(golden).count
        for sequence in [UInt64(1), UInt64(records / 2), UInt64(records)] {
            let dir = tmp.appending("copy-\(sequence)")
            _ = try await LogTool.load(lines(golden), into: dir)
            do {
                let log = try LMDBEventLog.open(LMDBEventLog.Configuration(directory: dir))
                try log.env.write { txn in
                    var bytes = try txn.getBytes(
                        log.databases.records, key: SequenceKey.bytes(sequence))!
                    bytes[bytes.count / 2] ^= 0x20
                    try txn.put(
                        log.databases.records, key: SequenceKey.bytes(sequence), value: bytes)
                }
                await log.close()
            }
            #expect(try LogTool.verify(dir).failure?.sequence == sequence)
        }
        // A dump edited by hand does not load.
        var edited = lines(golden)
        edited[2] = edited[2].replacingOccurrences(
            of: "\"stream\":\"shop\"", with: "\"stream\":\"shoq\"")
        await #expect(throws: ToolError.self) {
            try await LogTool.load(edited, into: tmp.appending("edited"))
        }
        await #expect(throws: ToolError.self) {
            try await LogTool.load(["{not json"], into: tmp.appending("junk"))
        }
        // Nor into a directory that already holds a log.
        await #expect(throws: ToolError.self) {
            try await LogTool.load(lines(golden), into: tmp.appending("copy-1"))
        }
    }

    /// Each field of a dump line read strictly, the line and the field named.
    static let badLines: [(String, String, String)] = [
        ("sequence", "\"sequence\":1", "\"sequence\":1.0"),
        ("sequence", "\"sequence\":1", "\"sequence\":-1"),
        ("sequence", "\"sequence\":1", "\"sequence\":\"1\""),
        ("stream_version", "\"stream_version\":1", "\"stream_version\":1e0"),
        ("recorded_at_us", "\"recorded_at_us\":", "\"recorded_at_us\":\"x\",\"was\":"),
        ("format", "\"format\":1", "\"format\":3"),
        ("event_id", "\"event_id\":\"", "\"event_id\":\"zz"),
        ("payload_hex", "\"payload_hex\":\"", "\"payload_hex\":\"0"),
        ("hash", "\"hash\":\"", "\"hash\":\"g"),
        ("stream", "\"stream\":\"", "\"stream\":5,\"x\":\""),
        ("JSON", "{", "{,"),
    ]

    @Test("dump lines are read strictly", arguments: badLines)
    func dumpLinesAreReadStrictly(field: String, find: String, replace: String) throws {
        let golden = try String(
            contentsOf: fixtures.appendingPathComponent("small.jsonl"), encoding: .utf8)
        let line = lines(golden)[0]
        #expect(line.contains(find), "the fixture's first line has \(find)")
        var edited = line
        edited.replaceSubrange(edited.range(of: find)!, with: replace)
        #expect(throws: ToolError.self) { try RecordJSON.record(from: edited, lineNumber: 7) }
        do {
            _ = try RecordJSON.record(from: edited, lineNumber: 7)
        } catch let error as ToolError {
            #expect("\(error)".contains("line 7"))
            #expect(
                "\(error)".contains(field)
                    || field == "JSON"
                        && "\(error)".contains("not a JSON object")
            )
        }
        #expect(try RecordJSON.record(from: line, lineNumber: 1).sequence == 1)
    }

    @Test func explainTellsARefreshChain() async throws {
        let tmp = try TemporaryDirectory(prefix: "explain")
        defer { tmp.remove() }
        let w = try await Workload.run(in: tmp.appending("log"))
        let dir = tmp.appending("log")
        let first = try await TokenStory.find(
            in: try LogTool.open(dir), instance: InstanceID("shop")!, serial: TokenSerial(1),
            token: nil)
        #expect(first.issued.origin == .password(basic: true))
        #expect(first.children.map(\.serial) == [TokenSerial(2)])
        #expect(first.revoked?.event.reason == .selfRevoked)
        #expect(first.status(at: Int64.max - 1) == .revoked)
        let second = try await TokenStory.find(
            in: try LogTool.open(dir), instance: InstanceID("shop")!, serial: nil,
            token: w.secrets[TokenSerial(2)])
        #expect(second.issued.serial == TokenSerial(2))
        #expect(second.issued.origin == .token(parent: TokenSerial(1)))
        #expect(second.children.map(\.serial) == [TokenSerial(3)])
        #expect(second.status(at: Workload.start + 10_000_000_000) == .expired)
        let json = second.json(now: Workload.start)
        #expect(json.contains(#""minted_by":{"kind":"token","parent_serial":1}"#))
        #expect(!json.contains(w.secrets[TokenSerial(2)]!.dropFirst(13)))
        let fourth = try await TokenStory.find(
            in: try LogTool.open(dir), instance: InstanceID("shop")!, serial: TokenSerial(4),
            token: nil)
        #expect(fourth.revoked?.event.reason == .deletedBySerial)
        #expect(fourth.issued.origin == .password(basic: false))
        await #expect(throws: ToolError.self) {
            try await TokenStory.find(
                in: try LogTool.open(dir), instance: InstanceID("shop")!, serial: TokenSerial(99),
                token: nil)
        }
        await #expect(throws: ToolError.self) {
            try await TokenStory.find(
                in: try LogTool.open(dir), instance: InstanceID("nobody")!, serial: TokenSerial(1),
                token: nil)
        }
    }

    @Test func backupIsAVerifiedCopyThatReplaysToTheSameDigest() async throws {
        let tmp = try TemporaryDirectory(prefix: "backup")
        defer { tmp.remove() }
        _ = try await Workload.run(in: tmp.appending("log"))
        let report = try LogTool.backup(
            tmp.appending("log"), to: tmp.appending("copy"), verify: true)
        #expect(try LogTool.verify(tmp.appending("copy")).isValid)
        let source = try await ReplayedState.load(try LogTool.open(tmp.appending("log")))
        let copy = try await ReplayedState.load(try LogTool.open(tmp.appending("copy")))
        #expect(report.head == source.head)
        #expect(StateDigest.hex(of: copy.state) == StateDigest.hex(of: source.state))
        #expect(throws: ToolError.self) {
            try LogTool.backup(tmp.appending("log"), to: tmp.appending("copy"))
        }
    }

    /// Spec §10.6: a backup holds what the log holds, so it is its owner's alone too.
    @Test func aBackupIsItsOwnersAloneAndRefusesADirectoryOthersCanWrite() async throws {
        let tmp = try TemporaryDirectory(prefix: "backup-modes")
        defer { tmp.remove() }
        _ = try await Workload.run(in: tmp.appending("log"))
        func mode(_ path: String) throws -> Int? {
            try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        }
        let fresh = tmp.appending("new/copy")
        let report = try LogTool.backup(tmp.appending("log"), to: fresh)
        #expect(report.warning == nil)
        #expect(try mode(fresh) == 0o700)
        let names = try FileManager.default.contentsOfDirectory(atPath: fresh).sorted()
        #expect(names == ["data.mdb", "lock.mdb"])
        for name in names { #expect(try mode(fresh + "/" + name) == 0o600, "\(name)") }

        let shared = tmp.appending("shared")
        try FileManager.default.createDirectory(atPath: shared, withIntermediateDirectories: false)
        chmod(shared, 0o777)
        let refusal = #expect(throws: ToolError.self) {
            try LogTool.backup(tmp.appending("log"), to: shared)
        }
        #expect(refusal?.message.contains("chmod 700 \(shared)") == true)
        #expect(try FileManager.default.contentsOfDirectory(atPath: shared).isEmpty)

        chmod(shared, 0o755)
        let readable = try LogTool.backup(tmp.appending("log"), to: shared)
        #expect(readable.warning?.contains("(mode 0755)") == true)
        #expect(try mode(shared + "/data.mdb") == 0o600)
    }

    @Test func statsCountWhatTheLogHolds() async throws {
        let tmp = try TemporaryDirectory(prefix: "stats")
        defer { tmp.remove() }
        _ = try await Workload.run(in: tmp.appending("log"))
        let s = try await LogTool.stats(
            try LogTool.open(tmp.appending("log")), now: Workload.start + 1_000_000_000)
        #expect(s.eventsByType["token-issued.v1"] == 5)
        #expect(s.eventsByType["token-revoked.v1"] == 2)
        #expect(s.instances == 3)
        #expect(s.tokens == 5)
        // t1 revoked, t2 expired, t4 deleted; t3 valid; the deleted instance's token is not.
        #expect(s.tokensValidNow == 1)
        #expect(s.firstRecordAt == Workload.start)
        #expect(LogTool.formatTime(Workload.start) == "2026-09-21T14:13:20Z")
        #expect(LogTool.formatTime(0) == "1970-01-01T00:00:00Z")
        #expect(LogTool.formatTime(951_782_400_000_000) == "2000-02-29T00:00:00Z")
        #expect(s.logBytes > 0)
    }

    @Test func theCommandLineFailsWithOneClearLine() throws {
        let me = URL(
            fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(
                atPath: "/proc/self/exe"))
        let tool = me.deletingLastPathComponent().appendingPathComponent("tallystick-log")
        let process = Process()
        process.executableURL = tool
        process.arguments = ["verify", "--data-dir", "/nonexistent/tallystick"]
        let err = Pipe()
        process.standardError = err
        process.standardOutput = Pipe()
        try process.run()
        process.waitUntilExit()
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationStatus == 1)
        #expect(
            text.hasPrefix("tallystick-log: cannot open the event log in /nonexistent/tallystick"))
        #expect(text.split(separator: "\n").count == 1)
    }
}
