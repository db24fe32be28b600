import Foundation
import Testing

@testable import Tallystick

/// `tools/systemd/tallystick.service`: what it must say, and that systemd accepts it.
@Suite("systemd unit")
struct SystemdUnitTests {
    static let repository: URL = {
        var directory = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { directory.deleteLastPathComponent() }
        return directory
    }()

    static let unitFile = repository.appendingPathComponent("tools/systemd/tallystick.service")

    /// The `systemd-analyze` on `PATH`, if any.
    static let systemdAnalyze: URL? = {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":")
            .map { URL(fileURLWithPath: String($0)).appendingPathComponent("systemd-analyze") }
            .first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }()

    /// The `tallystick` executable built next to this test bundle (as
    /// `LiveServerTests.executable()` finds it for the MerchantAPI tests).
    static func executable() throws -> URL {
        let here = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let found = [
            here.appendingPathComponent("tallystick"),
            repository.appendingPathComponent(".build/debug/tallystick"),
        ].first { FileManager.default.isExecutableFile(atPath: $0.path) }
        return try #require(found, "build the tallystick product first (swift build)")
    }

    /// The unit's directives in order, as (section, key, value); comments and blank lines
    /// left out (no line continuations: the unit has none).
    static func directives(_ text: String) -> [(section: String, key: String, value: String)] {
        var section = ""
        var out: [(section: String, key: String, value: String)] = []
        for raw in text.split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") {
                section = String(line.dropFirst().dropLast())
            } else if let equals = line.firstIndex(of: "=") {
                out.append(
                    (section, String(line[..<equals]), String(line[line.index(after: equals)...])))
            }
        }
        return out
    }

    @Test func theUnitSaysWhatTheServiceNeeds() throws {
        let text = try String(contentsOf: Self.unitFile, encoding: .utf8)
        let service = Dictionary(
            Self.directives(text).filter { $0.section == "Service" }.map { ($0.key, $0.value) },
            uniquingKeysWith: { first, _ in first })
        let required = [
            "User": "tallystick", "StateDirectory": "tallystick", "ProtectSystem": "strict",
            "NoNewPrivileges": "yes", "PrivateTmp": "yes", "Restart": "on-failure",
            "KillSignal": "SIGTERM",
            "LoadCredential": "admin-password:/etc/tallystick/admin-password",
        ]
        for (key, value) in required {
            #expect(service[key] == value, "\(key)")
        }
        #expect(service["DynamicUser"] == nil)
        #expect(service["MemoryDenyWriteExecute"] == nil)  // the helpers may need it
        let stop = try #require(service["TimeoutStopSec"].flatMap { Int($0) })
        #expect(stop > 30, "longer than a request may take (body-timeout, helper-timeout)")

        // ExecStart is `tallystick serve` with flags the server knows.
        let command = try #require(service["ExecStart"]).split(separator: " ").map(String.init)
        #expect(
            command.prefix(4) == [
                "/usr/local/bin/tallystick", "serve", "--config", "/etc/tallystick/tallystick.conf",
            ])
        let flags = try ServerSettings.parseFlags(Array(command.dropFirst(4)))
        #expect(
            flags == [
                "data-dir": "/var/lib/tallystick",
                "admin-password-file": "${CREDENTIALS_DIRECTORY}/admin-password",
            ])
        #expect(
            Self.directives(text).contains { $0 == ("Install", "WantedBy", "multi-user.target") })
    }

    /// `systemd-analyze verify` checks the unit's keys and values and that ExecStart's program
    /// exists, so it runs on a copy whose ExecStart names the tallystick just built.
    @Test(
        .enabled(
            if: systemdAnalyze != nil,
            "systemd-analyze is not installed: the unit file is not verified by systemd"))
    func systemdAnalyzeVerifiesTheUnit() throws {
        let analyze = try #require(Self.systemdAnalyze)
        let original = try String(contentsOf: Self.unitFile, encoding: .utf8)
        let built = original.replacingOccurrences(
            of: "\nExecStart=/usr/local/bin/tallystick ",
            with: "\nExecStart=\(try Self.executable().path) ")
        let before = original.split(separator: "\n", omittingEmptySubsequences: false)
        let after = built.split(separator: "\n", omittingEmptySubsequences: false)
        let changed = zip(before, after).filter { $0 != $1 }.map { $0.0 }
        #expect(before.count == after.count)
        #expect(changed.count == 1)
        #expect(changed.allSatisfy { $0.hasPrefix("ExecStart=") })

        let directory = NSTemporaryDirectory() + "tallystick-unit-\(UUID().uuidString)"
        try FileManager.default.createDirectory(
            atPath: directory + "/broken", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let unit = directory + "/tallystick.service"
        try built.write(toFile: unit, atomically: true, encoding: .utf8)
        let result = try Self.verify(unit, with: analyze)
        #expect(result.status == 0, "\(result.warnings)")
        #expect(result.warnings == [])

        // The check can fail: an unknown key is only a warning (status 0) and is caught.
        let broken = directory + "/broken/tallystick.service"
        try built.replacingOccurrences(of: "\nUser=", with: "\nNoSuchKey=1\nUser=").write(
            toFile: broken, atomically: true, encoding: .utf8)
        #expect(try Self.verify(broken, with: analyze).warnings.count == 1)
    }

    /// Runs `systemd-analyze verify` on `unit`: its exit status, and what it printed about
    /// the unit (other units of the machine may have warnings of their own).
    static func verify(_ unit: String, with analyze: URL) throws -> (
        status: Int32, warnings: [String]
    ) {
        let process = Process()
        process.executableURL = analyze
        process.arguments = ["verify", unit]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(
            decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let warnings = text.split(separator: "\n").map(String.init).filter {
            $0.contains("tallystick.service") || $0.contains(unit)
        }
        return (process.terminationStatus, warnings)
    }
}
