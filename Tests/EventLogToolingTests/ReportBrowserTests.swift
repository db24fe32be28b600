import EventLogTestSupport
import Foundation
import Testing

@testable import EventLogTooling

/// Debian's headless Chromium (installed by `tools/setup.sh`), run once per page: it loads a
/// file, runs its script, and prints the DOM after it; with `--enable-logging=stderr` every
/// console message (an uncaught exception, a request the page's Content-Security-Policy
/// refused) is a `CONSOLE` line on standard error.
struct HeadlessChromium {
    struct Run {
        var status: Int32
        var dom: String
        /// The browser's console messages, one per line.
        var console: [String]
    }

    static func binary() throws -> String {
        try #require(
            ["/usr/bin/chromium", "/usr/lib/chromium/chromium"].first {
                FileManager.default.isExecutableFile(atPath: $0)
            }, "chromium is missing: run tools/setup.sh (as root) or apt-get install -y chromium")
    }

    /// Loads `page` in a fresh profile under `scratch`, with `screenshot` written when given.
    /// Killed after 60 s. Runs on a thread of its own (the browser is waited for).
    static func load(page: String, scratch: String, screenshot: String? = nil) async throws -> Run {
        var arguments = [
            "--headless", "--disable-gpu", "--no-first-run", "--disable-extensions",
            "--disable-background-networking", "--disable-sync", "--hide-scrollbars",
            "--user-data-dir=\(scratch)/profile", "--enable-logging=stderr", "--v=0",
            "--window-size=1280,1700", "--dump-dom",
        ]
        if getuid() == 0 { arguments.append("--no-sandbox") }  // Chromium refuses root otherwise
        if let screenshot { arguments.append("--screenshot=\(screenshot)") }
        arguments.append(URL(fileURLWithPath: page).absoluteString)
        let binary = try binary()
        let command = arguments
        let out = scratch + "/dom.html"
        let err = scratch + "/stderr.txt"
        FileManager.default.createFile(atPath: out, contents: nil)
        FileManager.default.createFile(atPath: err, contents: nil)
        let status = try await withCheckedThrowingContinuation {
            (done: CheckedContinuation<Int32, any Error>) in
            DispatchQueue.global().async {
                done.resume(
                    with: Result {
                        let process = Process()
                        process.executableURL = URL(fileURLWithPath: binary)
                        process.arguments = command
                        process.standardOutput = FileHandle(forWritingAtPath: out)
                        process.standardError = FileHandle(forWritingAtPath: err)
                        process.standardInput = FileHandle.nullDevice
                        try process.run()
                        let pid = process.processIdentifier
                        DispatchQueue.global().asyncAfter(deadline: .now() + 60) {
                            if process.isRunning { kill(pid, SIGKILL) }
                        }
                        process.waitUntilExit()
                        return process.terminationStatus
                    })
            }
        }
        let said = try String(contentsOfFile: err, encoding: .utf8)
        return Run(
            status: status, dom: try String(contentsOfFile: out, encoding: .utf8),
            console: said.split(separator: "\n").filter { $0.contains(":CONSOLE") }.map(String.init)
        )
    }
}

@Suite("Audit report in a browser")
struct ReportBrowserTests {
    /// The audit fixture's report in a real browser: it loads with no console message at all
    /// (no exception, no request refused), its script runs to the end, the timeline, marks and
    /// table are in the DOM, and a screenshot is left in `.build/audit-report.png` for a
    /// person to look at. A copy with a request and a script slipped in shows that the check
    /// would see them.
    @Test func theReportLoadsInChromiumWithoutErrorsOrRequests() async throws {
        let tmp = try TemporaryDirectory(prefix: "report-browser")
        defer { tmp.remove() }
        let dir = try await loadFixture("audit.jsonl", into: tmp.appending("log"))
        let html = try await auditReport(dir).html()
        let page = tmp.appending("report.html")
        try html.write(toFile: page, atomically: true, encoding: .utf8)
        let build = fixtures.deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".build")
        try FileManager.default.createDirectory(at: build, withIntermediateDirectories: true)
        let screenshot = build.appendingPathComponent("audit-report.png").path
        try? FileManager.default.removeItem(atPath: screenshot)

        try FileManager.default.createDirectory(
            atPath: tmp.appending("run"), withIntermediateDirectories: true)
        let run = try await HeadlessChromium.load(
            page: page, scratch: tmp.appending("run"), screenshot: screenshot)
        #expect(run.status == 0)
        #expect(run.console.isEmpty, "console: \(run.console)")
        #expect(run.dom.contains("<html lang=\"en\" data-ready=\"yes\">"))
        // Filled in by the script: each instance's count of shown rows.
        #expect(run.dom.contains("4 of 4 listed tokens shown"))
        #expect(run.dom.contains("<section class=\"instance\" id=\"instance-cafe\""))
        #expect(run.dom.matches(of: #/<g class="token /#).count == 8)
        #expect(run.dom.matches(of: /<path class="lineage" data-parent/).count == 4)
        #expect(run.dom.contains("data-kind=\"logins-blocked\""))
        #expect(run.dom.matches(of: /<tr data-serial=/).count == 8)
        let png = try #require(FileManager.default.contents(atPath: screenshot))
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]))
        #expect(png.count > 20_000)

        // The control: an image from the network and an inline script, slipped into the page.
        let tampered = tmp.appending("tampered.html")
        try html.replacingOccurrences(
            of: "</body>",
            with:
                "<img src=\"http://127.0.0.1:9/probe.png\"><script>throw new Error('x')</script></body>"
        ).write(toFile: tampered, atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(
            atPath: tmp.appending("control"), withIntermediateDirectories: true)
        let control = try await HeadlessChromium.load(
            page: tampered, scratch: tmp.appending("control"))
        #expect(control.console.contains { $0.contains("probe.png") }, "\(control.console)")
        #expect(control.console.contains { $0.contains("script") }, "\(control.console)")
    }
}
