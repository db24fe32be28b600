import EventLogTestSupport
import Foundation
import LMDB
import Testing
import TextCoding
import TokenDomain
import TokenEngine

@testable import EventLog
@testable import EventLogTooling

/// The fixture dumps as lines.
func fixtureLines(_ name: String) throws -> [String] {
    try String(contentsOf: fixtures.appendingPathComponent(name), encoding: .utf8)
        .split(separator: "\n").map(String.init)
}

/// A fixture dump loaded into a new LMDB log in `directory`.
@discardableResult
func loadFixture(_ name: String, into directory: String) async throws -> String {
    _ = try await LogTool.load(try fixtureLines(name), into: directory)
    return directory
}

/// The report of the LMDB log in `directory`, made as `tallystick-log report` makes it.
func auditReport(_ directory: String, options: AuditReport.Options = .init()) async throws
    -> AuditReport
{
    let verification = try LogTool.verify(directory)
    return try await AuditReport.build(
        try LogTool.open(directory), verification: verification, options: options)
}

/// Reads the structure of a rendered report back: the HTML between an instance's section
/// tags, and the `data-` values of the elements the page promises (see `AuditReport+HTML`).
struct ReportPage {
    let html: String

    func section(_ instance: String) throws -> String {
        let start = try #require(
            html.range(of: "<section class=\"instance\" id=\"instance-\(instance)\""))
        let end = try #require(
            html.range(of: "</section>", range: start.upperBound..<html.endIndex))
        return String(html[start.lowerBound..<end.upperBound])
    }

    /// Serials of the bars of an instance's timeline, in order.
    func bars(_ instance: String) throws -> [Int] {
        try section(instance).matches(of: /<g class="token [^"]*" data-serial="(\d+)"/)
            .map { Int($0.1)! }
    }

    /// (parent, child) of each lineage link.
    func links(_ instance: String) throws -> [[Int]] {
        try section(instance).matches(of: /class="lineage" data-parent="(\d+)" data-child="(\d+)"/)
            .map { [Int($0.1)!, Int($0.2)!] }
    }

    /// Serial and status of each table row.
    func rows(_ instance: String) throws -> [String] {
        try section(instance).matches(of: /<tr data-serial="(\d+)" class="(\w+)">/)
            .map { "\($0.1) \($0.2)" }
    }

    /// Kind and sequence of each mark, in log order.
    func marks(_ instance: String) throws -> [String] {
        try section(instance).matches(of: /data-kind="([a-z-]+)" data-sequence="(\d+)"/)
            .sorted { Int($0.2)! < Int($1.2)! }.map { "\($0.1) \($0.2)" }
    }
}

@Suite("Audit report")
struct AuditReportTests {
    /// The golden log (`small.jsonl`): every token of `shop` with its lineage and how it
    /// ended, the credential change, the deleted instance, and nothing secret.
    @Test func theGoldenLogsReportShowsItsTokensLineageAndEnds() async throws {
        let tmp = try TemporaryDirectory(prefix: "report-golden")
        defer { tmp.remove() }
        let dir = try await loadFixture("small.jsonl", into: tmp.appending("log"))
        let report = try await auditReport(dir)
        #expect(report.verification.isValid)
        #expect(report.instances.map(\.id.rawValue) == ["admin", "gone", "shop"])
        let page = ReportPage(html: report.html())
        #expect(page.html.contains("<header id=\"log\" class=\"ok\">"))
        #expect(page.html.contains("The log verifies</strong>: 12 records in 3 streams"))
        #expect(try page.bars("shop") == [1, 2, 3, 4])
        #expect(try page.links("shop") == [[1, 2], [2, 3]])
        // At the newest record (14:28): 1 revoked itself, 2 expired, 3 valid, 4 deleted.
        #expect(
            try page.rows("shop") == ["1 revoked", "2 expired", "3 valid", "4 revoked"])
        #expect(try page.section("shop").contains("<td>back office</td>"))
        #expect(
            try page.marks("shop") == ["instance-created 1", "credentials-changed 9"])
        #expect(try page.marks("gone") == ["instance-created 10", "instance-deleted 12"])
        #expect(try page.section("gone").contains("class=\"badge deleted\""))
        #expect(try page.bars("gone") == [1])
        #expect(try page.rows("gone") == ["1 ended"])
        #expect(try page.bars("admin").isEmpty)
        // Nothing secret: no whole token hash (or any long hex), only its first 8 digits.
        for line in try fixtureLines("small.jsonl") where line.contains("token-issued") {
            let hash = try #require(line.firstMatch(of: /"token_hash":"([0-9a-f]{64})"/)).1
            #expect(!page.html.contains(hash))
            #expect(page.html.contains("<code>\(hash.prefix(8))</code>"))
        }
        #expect(page.html.firstMatch(of: /[0-9a-f]{20,}/) == nil)
    }

    /// The audit fixture (`audit.jsonl`, made by ``AuditWorkload``): a mark for every
    /// challenge step, credential change and login block the log records, the signed tree
    /// heads, the per-day counts, and everything from the log escaped. With
    /// TALLYSTICK_REGENERATE_FIXTURES=1 the fixture is made anew first.
    @Test func theAuditFixturesReportShowsChallengesBlocksAndTreeHeads() async throws {
        let tmp = try TemporaryDirectory(prefix: "report-audit")
        defer { tmp.remove() }
        if ProcessInfo.processInfo.environment["TALLYSTICK_REGENERATE_FIXTURES"] == "1" {
            try await AuditWorkload.run(in: tmp.appending("made"))
            var dump = ""
            try await LogTool.dump(try LogTool.open(tmp.appending("made"))) { dump += $0 + "\n" }
            try dump.write(
                to: fixtures.appendingPathComponent("audit.jsonl"), atomically: true,
                encoding: .utf8)
        }
        let dir = try await loadFixture("audit.jsonl", into: tmp.appending("log"))
        let report = try await auditReport(dir)
        let page = ReportPage(html: report.html())
        let lines = try fixtureLines("audit.jsonl")
        // Every mark the log calls for, in log order, with its record's sequence.
        let kinds: [String: String] = [
            "instance-created.v1": "instance-created",
            "instance-credentials-changed.v1": "credentials-changed",
            "challenge-created.v1": "challenge-created",
            "challenge-code-transmitted.v1": "challenge-sent",
            "challenge-attempt-failed.v1": "attempt-failed",
            "challenge-solved.v1": "challenge-solved",
            "challenge-consumed.v1": "challenge-consumed",
            "challenge-expired.v1": "challenge-expired",
            "instance-logins-blocked.v1": "logins-blocked",
            "instance-logins-unblocked.v1": "logins-unblocked",
        ]
        var expected = [String]()
        var challenges = Set<String>()
        for line in lines where line.contains(#""stream":"kiosk""#) {
            let type = String(try #require(line.firstMatch(of: /"type":"([^"]+)"/)).1)
            let sequence = try #require(line.firstMatch(of: /"sequence":(\d+)/)).1
            if let kind = kinds[type] { expected.append("\(kind) \(sequence)") }
            if let id = line.firstMatch(of: /"challenge_id":"([A-Z0-9]+)"/) {
                challenges.insert(String(id.1))
            }
        }
        for kind in kinds.values where kind != "instance-created" {
            #expect(expected.contains { $0.hasPrefix(kind + " ") }, "the fixture has \(kind)")
        }
        #expect(challenges.count == 4)
        #expect(try page.marks("kiosk") == expected)
        let kiosk = try page.section("kiosk")
        for id in challenges {
            #expect(kiosk.contains("<g class=\"challenge\" data-challenge=\"\(id)\">"))
        }
        #expect(kiosk.contains("<rect class=\"block\""))
        // The challenge table: what each protected, its codes and wrong codes, how it ended.
        let rows = kiosk.matches(
            of:
                /<tr data-challenge="([A-Z0-9]+)" class="(\w+)"><td><code>[A-Z0-9]+<\/code><\/td><td>([a-z-]+)<\/td><td>email o\*\*\*@example.com<\/td><td class="t">[^<]+<\/td><td class="num">(\d)<\/td><td class="num">(\d)<\/td>/
        ).map { "\($0.3) \($0.2) sent \($0.4) wrong \($0.5)" }
        #expect(
            rows == [
                "token-issue used sent 1 wrong 1", "credential-change used sent 1 wrong 0",
                "token-issue expired sent 1 wrong 3", "token-issue used sent 1 wrong 0",
            ])
        #expect(try page.links("kiosk") == [[1, 2], [2, 3]])
        #expect(try page.links("cafe") == [[1, 2], [2, 3]])
        #expect(try page.bars("kiosk") == [1, 2, 3, 4])
        #expect(try page.rows("kiosk").contains("2 revoked"))
        // One failed confirmation on the first day, three on the second.
        #expect(kiosk.contains(#"data-mints="3" data-failed="1""#))
        #expect(kiosk.contains(#"data-mints="1" data-failed="3""#))
        // The signed tree heads, each with the record that holds it.
        let heads = lines.filter { $0.contains(#""stream":"$tree-heads""#) }
        #expect(heads.count == 3)
        #expect(page.html.matches(of: /<tr data-tree-size="\d+">/).count == heads.count)
        // Everything from the log escaped; addresses masked; no TAN or long hex.
        #expect(!page.html.contains("<script>alert"))
        #expect(
            page.html.contains("&lt;script&gt;alert(&quot;till 3&quot;)&lt;/script&gt; &amp; co"))
        #expect(page.html.contains("Kiosk &lt;Main &amp; Co&gt;"))
        #expect(page.html.components(separatedBy: "<script>").count == 2)
        #expect(!page.html.contains("owner@example.com"))
        #expect(page.html.contains("o***@example.com"))
        #expect(page.html.firstMatch(of: /[0-9a-f]{20,}/) == nil)
    }

    /// A damaged log gets a report too: the damage first, then the log before it.
    @Test func aDamagedLogStillGetsAReportWithTheDamageAtTheTop() async throws {
        let tmp = try TemporaryDirectory(prefix: "report-damaged")
        defer { tmp.remove() }
        let dir = try await loadFixture("small.jsonl", into: tmp.appending("log"))
        do {
            let log = try LMDBEventLog.open(LMDBEventLog.Configuration(directory: dir))
            try log.env.write { txn in
                var bytes = try txn.getBytes(log.databases.records, key: SequenceKey.bytes(7))!
                bytes[bytes.count / 2] ^= 0x20
                try txn.put(log.databases.records, key: SequenceKey.bytes(7), value: bytes)
            }
            await log.close()
        }
        let report = try await auditReport(dir)
        #expect(report.verification.failure?.sequence == 7)
        #expect(report.foldedThrough.sequence == 6)
        let page = ReportPage(html: report.html())
        let header = try #require(page.html.range(of: "<header id=\"log\" class=\"damaged\">"))
        let verdict = try #require(page.html.range(of: "data-bad-sequence=\"7\""))
        let firstSection = try #require(page.html.range(of: "<section"))
        #expect(header.lowerBound < verdict.lowerBound)
        #expect(verdict.lowerBound < firstSection.lowerBound)
        #expect(page.html.contains("The log does not verify at sequence 7"))
        // Records 1 to 6: four tokens, none revoked yet; record 7 on is not shown.
        #expect(try page.bars("shop") == [1, 2, 3, 4])
        #expect(!(try page.rows("shop")).contains { $0.hasSuffix("revoked") })
        #expect(try page.marks("shop") == ["instance-created 1"])
        #expect(!page.html.contains("data-instance=\"gone\""))

        // The command line writes the page all the same and exits 1 with one line.
        let out = tmp.appending("report.html")
        let (status, said) = try runTool(["report", "--html", out, "--data-dir", dir])
        #expect(status == 1)
        #expect(said.hasPrefix("tallystick-log: log does not verify at sequence 7"))
        #expect(said.split(separator: "\n").count == 1)
        let written = try String(contentsOfFile: out, encoding: .utf8)
        #expect(written.contains("data-bad-sequence=\"7\""))
    }

    /// Beyond the set number of bars the timeline draws every n-th token, the table the
    /// newest ones, and the page says so; the band still counts every token.
    @Test func aLargeInstanceIsSampledAndThePageSaysSo() async throws {
        let tmp = try TemporaryDirectory(prefix: "report-large")
        defer { tmp.remove() }
        let dir = tmp.appending("log")
        let log = try LMDBEventLog.open(LMDBEventLog.Configuration(directory: dir))
        let start: Int64 = 1_790_000_000_000_000
        let shop = InstanceID("shop")!
        var events = [
            EventCodec.encode(
                .instanceCreated(
                    InstanceCreated(
                        at: start, name: "Shop", auth: .external, email: nil, phoneNumber: nil,
                        details: [])))
        ]
        for n in 1...1_000 {
            let hash = TokenHash(
                bytes: Array(repeating: UInt8(n % 251), count: 31) + [UInt8(n / 251)])!
            events.append(
                EventCodec.encode(
                    .tokenIssued(
                        TokenIssued(
                            serial: TokenSerial(UInt64(n)), hash: hash, scope: .orderPos,
                            refreshable: false, issuedAt: start + Int64(n) * 1_000_000,
                            expiry: .at(start + 86_400_000_000), description: nil,
                            origin: .password(basic: true)))))
        }
        _ = try await log.append(
            to: shop.rawValue, expecting: .noStream,
            events: events.map { ProposedEvent(type: $0.0, payload: $0.1) })
        await log.close()
        var options = AuditReport.Options()
        options.timelineBars = 50
        options.tableRows = 100
        let report = try await auditReport(dir, options: options)
        let shopReport = try #require(report.instances.first)
        #expect(shopReport.tokensInWindow == 1_000)
        #expect(shopReport.barStride == 20)
        #expect(shopReport.live.max() == 1_000)
        let page = ReportPage(html: report.html())
        #expect(try page.bars("shop") == Array(stride(from: 1, through: 981, by: 20)))
        #expect(
            try page.rows("shop").map { Int($0.split(separator: " ")[0])! } == Array(901...1_000))
        #expect(page.html.contains("the timeline draws 50 of the 1,000 tokens"))
        #expect(page.html.contains("The table lists the newest 100 of the 1,000 tokens"))
        #expect(page.html.contains("data-peak=\"1000\""))
    }
}

/// Runs the `tallystick-log` built beside this test bundle; its exit status and standard error.
func runTool(_ arguments: [String]) throws -> (Int32, String) {
    let me = URL(
        fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(
            atPath: "/proc/self/exe"))
    let process = Process()
    process.executableURL = me.deletingLastPathComponent().appendingPathComponent("tallystick-log")
    process.arguments = arguments
    let err = Pipe()
    process.standardError = err
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return (process.terminationStatus, text)
}
