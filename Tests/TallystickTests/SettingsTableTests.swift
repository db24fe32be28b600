import Foundation
import Testing

@testable import Tallystick

/// The settings are one table (``ServerSettings/table``): the README's settings table, `--help`
/// of every subcommand and the resolver all come from it.
@Suite("The settings table")
struct SettingsTableTests {
    /// The README's table, from its header row to the first line that is not a row.
    static func readmeTable() throws -> String {
        var directory = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { directory.deleteLastPathComponent() }
        let readme = try String(
            contentsOf: directory.appendingPathComponent("README.md"), encoding: .utf8)
        let lines = readme.split(separator: "\n", omittingEmptySubsequences: false)
        let start = try #require(
            lines.firstIndex { $0.hasPrefix("| file key | flag | environment | default |") })
        return lines[start...].prefix { $0.hasPrefix("|") }.joined(separator: "\n")
    }

    /// With TALLYSTICK_REGENERATE_README=1 this writes the table into the README instead.
    @Test func theReadmeShowsExactlyTheTable() throws {
        let current = try Self.readmeTable()
        if ProcessInfo.processInfo.environment["TALLYSTICK_REGENERATE_README"] == "1" {
            var directory = URL(fileURLWithPath: #filePath)
            for _ in 0..<3 { directory.deleteLastPathComponent() }
            let file = directory.appendingPathComponent("README.md")
            let readme = try String(contentsOf: file, encoding: .utf8)
            try readme.replacingOccurrences(of: current, with: ServerSettings.markdownTable)
                .write(to: file, atomically: true, encoding: .utf8)
            return
        }
        #expect(current == ServerSettings.markdownTable)
    }

    @Test func everySubcommandsHelpListsEverySetting() {
        for help in [Serve.helpMessage(), Passwd.helpMessage(), Status.helpMessage()] {
            for setting in ServerSettings.table {
                #expect(help.contains("--\(setting.flag) "), "--\(setting.flag)")
                #expect(help.contains(setting.environment), "\(setting.environment)")
            }
            #expect(help.contains("--config"))
        }
    }

    @Test func keysFlagsAndVariablesAreUnique() {
        for path in [\Setting.key, \Setting.flag, \Setting.environment] {
            let values = ServerSettings.table.map { $0[keyPath: path] }
            #expect(Set(values).count == values.count)
        }
    }

    @Test func flagsBeatTheEnvironmentWhichBeatsTheFile() throws {
        let file = NSTemporaryDirectory() + "tallystick-settings-\(UUID().uuidString).conf"
        defer { try? FileManager.default.removeItem(atPath: file) }
        try "port = 1\nhost = 10.0.0.1\ndata-dir = /from/file\n".write(
            toFile: file, atomically: true, encoding: .utf8)
        let settings = try ServerSettings.resolve(
            flags: try ServerSettings.parseFlags(["--port", "3", "--log-level=debug"]),
            environment: ["TALLYSTICK_PORT": "2", "TALLYSTICK_DATA_DIR": "/from/env"],
            configFile: file)
        #expect(settings.port == 3)
        #expect(settings.dataDirectory == "/from/env")
        #expect(settings.host == "10.0.0.1")
        #expect(settings.logLevel == .debug)
        #expect(settings.tanDigits == ServerSettings().tanDigits)
    }

    @Test(
        "refused: unknown flags and keys, missing values, repeats",
        arguments: [["--prot", "1"], ["--port"], ["--port", "1", "--port=2"], ["port", "1"]])
    func refusedFlags(_ arguments: [String]) {
        #expect(throws: ServerSettings.Invalid.self) { try ServerSettings.parseFlags(arguments) }
    }

    @Test func unknownFileKeysAreRefusedWithTheLine() {
        #expect {
            try ServerSettings.parseFile("# comment\nport = 1\nprot = 2\n", path: "x.conf")
        } throws: { error in
            "\(error)" == "x.conf:3: unknown key prot"
        }
    }
}
