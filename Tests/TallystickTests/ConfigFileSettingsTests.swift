import Foundation
import Testing

@testable import Tallystick

/// The config file's two formats resolved into ``ServerSettings``: Taler's INI format with
/// a `[tallystick]` section, and the older `key = value` lines.
@Suite("Config file settings")
struct ConfigFileSettingsTests {
    /// An operator's `/etc/taler/taler-merchant.conf`: paths, the currency, the merchant's
    /// own options (most of them none of Tallystick's business), and Tallystick's section in
    /// a file of its own.
    static let merchantConf = """
        # /etc/taler/taler-merchant.conf
        [PATHS]
        TALER_HOME = /srv/shop
        TALER_DATA_HOME = ${TALER_HOME:-/var/lib}/taler
        % Taler's installed defaults define TALER_RUNTIME_DIR; Tallystick reads none of them.

        [taler]
        CURRENCY = EUR
        CURRENCY_ROUND_UNIT = EUR:0.01

        [merchant]
        SERVE = tcp
        PORT = 9976
        UNIXPATH = ${TALER_RUNTIME_DIR}/merchant-httpd/merchant-http.sock
        DATABASE = postgres
        LEGAL_PRESERVATION = 10 years
        HELPER_SMS = $TALER_HOME/bin/taler-sms-helper
        HELPER_EMAIL = ${TALER_HOME}/bin/taler-email-helper

        [merchantdb-postgres]
        CONFIG = postgres:///taler-merchant

        @inline@ tallystick.d/tallystick.conf
        @inline-secret@ merchantdb-postgres secrets/merchant-db.secret.conf
        """

    static let tallystickConf = """
        [tallystick]
        # Tallystick's keys, in the case Taler's options are written in
        PORT = 9966
        HOST = 127.0.0.1
        DATA-DIR = ${TALLYSTICK_STATE:-$TALER_DATA_HOME/tallystick}
        LOG-LEVEL = "warning"
        Tan-Digits = 6
        admin-password-file = ${CREDENTIALS_DIRECTORY:-/etc/tallystick}/admin-password
        """

    static let files: [String: String] = [
        "/etc/taler/taler-merchant.conf": merchantConf,
        "/etc/taler/tallystick.d/tallystick.conf": tallystickConf,
    ]

    /// The settings from `files` (in memory), the config file being the only one or
    /// `taler-merchant.conf`.
    static func resolve(
        _ files: [String: String], flags: [String] = [], environment: [String: String] = [:]
    ) throws -> ServerSettings {
        try ServerSettings.resolve(
            flags: try ServerSettings.parseFlags(flags), environment: environment,
            configFile: files.count == 1 ? files.keys.first : "/etc/taler/taler-merchant.conf",
            files: .memory(files))
    }

    /// The one line `resolve` refuses `files` with.
    static func refusal(
        _ files: [String: String], environment: [String: String] = [:]
    ) -> String? {
        do {
            _ = try resolve(files, environment: environment)
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test func aTalerMerchantConfResolves() throws {
        // The admin password file is read from disk by its setting: use a real one.
        let credentials = NSTemporaryDirectory() + "tallystick-credentials-\(UUID().uuidString)"
        try FileManager.default.createDirectory(
            atPath: credentials, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: credentials) }
        try "from systemd\n".write(
            toFile: credentials + "/admin-password", atomically: true, encoding: .utf8)

        let settings = try Self.resolve(
            Self.files,
            environment: [
                "TALER_HOME": "/not/this/one",  // [PATHS] beats the environment
                "CREDENTIALS_DIRECTORY": credentials,
            ])
        var expected = ServerSettings()
        expected.port = 9966  // [tallystick] PORT, not the merchant's
        expected.host = "127.0.0.1"
        expected.dataDirectory = "/srv/shop/taler/tallystick"
        expected.logLevel = .warning
        expected.tanDigits = 6
        expected.adminPassword = "from systemd"
        expected.helperSMS = "/srv/shop/bin/taler-sms-helper"  // from [merchant]
        expected.helperEmail = "/srv/shop/bin/taler-email-helper"
        expected.publicConfiguration.currency = "EUR"  // from [taler]
        #expect(settings == expected)

        // The default of ${TALLYSTICK_STATE:-...} gives way to the variable when it is set.
        let state = try Self.resolve(
            Self.files,
            environment: [
                "TALLYSTICK_STATE": "/var/lib/tallystick", "CREDENTIALS_DIRECTORY": credentials,
            ])
        #expect(state.dataDirectory == "/var/lib/tallystick")
    }

    @Test func anUnknownTallystickKeyIsRefusedWithItsLine() {
        var files = Self.files
        files["/etc/taler/tallystick.d/tallystick.conf"] = "[tallystick]\nport = 1\n\nPROT = 2\n"
        #expect(
            Self.refusal(files)
                == "/etc/taler/tallystick.d/tallystick.conf:4: unknown key PROT in [tallystick]")
    }

    @Test func aValueARowRefusesNamesItsLine() {
        // Only a whole line is a comment in this format: this port is "9966 # web".
        #expect(
            Self.refusal(["/etc/tallystick/tallystick.conf": "[tallystick]\nport = 9966 # web\n"])
                == "/etc/tallystick/tallystick.conf:2: port must be 0...65535")
        #expect(
            Self.refusal(["/etc/tallystick/tallystick.conf": "[tallystick]\ndata-dir = $NOWHERE\n"])
                == "/etc/tallystick/tallystick.conf:2: $NOWHERE is set neither in [PATHS] nor in the environment (a default: ${NOWHERE:-VALUE})"
        )
    }

    @Test func tallystickBeatsTheMerchantsHelperAndCurrency() throws {
        var files = Self.files
        files["/etc/taler/tallystick.d/tallystick.conf"] =
            "[tallystick]\nhelper_sms = /usr/local/bin/our-sms\nCURRENCY = CHF\n"
        let settings = try Self.resolve(files)
        #expect(settings.helperSMS == "/usr/local/bin/our-sms")
        #expect(settings.helperEmail == "/srv/shop/bin/taler-email-helper")
        #expect(settings.publicConfiguration.currency == "CHF")
    }

    @Test func theEnvironmentBeatsTheFileAndAFlagBeatsBoth() throws {
        let files = [
            "/etc/tallystick/tallystick.conf":
                "[tallystick]\nport = 1\nhost = 10.0.0.1\nHELPER_SMS = /a\n"
        ]
        let settings = try Self.resolve(
            files, flags: ["--host", "10.0.0.3"],
            environment: [
                "TALLYSTICK_PORT": "2", "TALLYSTICK_HOST": "10.0.0.2",
                "TALLYSTICK_HELPER_SMS": "/b",
            ])
        #expect(settings.port == 2)
        #expect(settings.host == "10.0.0.3")
        #expect(settings.helperSMS == "/b")
        // A value the environment replaced is not checked, and its line is not named.
        let replaced = ["/etc/tallystick/tallystick.conf": "[tallystick]\nport = none\n"]
        #expect(try Self.resolve(replaced, environment: ["TALLYSTICK_PORT": "3"]).port == 3)
    }

    @Test func theOlderKeyValueFormatIsStillRead() throws {
        let settings = try Self.resolve([
            "/etc/tallystick/tallystick.conf": """
            # no [section]: key = value lines, as before
            port = 9977 # a comment may follow here
            data-dir = $NOT_EXPANDED
            HELPER_SMS = /usr/bin/sms
            """
        ])
        #expect(settings.port == 9977)
        #expect(settings.dataDirectory == "$NOT_EXPANDED")
        #expect(settings.helperSMS == "/usr/bin/sms")
        // Keys are exact there, and values carry no line.
        #expect(
            Self.refusal(["/etc/tallystick/tallystick.conf": "PORT = 1\n"])
                == "/etc/tallystick/tallystick.conf:1: unknown key PORT")
        #expect(
            Self.refusal(["/etc/tallystick/tallystick.conf": "port = 70000\n"])
                == "port must be 0...65535")
    }

    @Test func onlyValuesNamingFilesAreExpanded() throws {
        let settings = try Self.resolve([
            "/etc/tallystick/tallystick.conf": "[tallystick]\nadmin-password = pa$$word$HOME\n"
        ])
        #expect(settings.adminPassword == "pa$$word$HOME")
        #expect(
            ServerSettings.table.filter(\.namesFile).map(\.key)
                == ["data-dir", "admin-password-file", "HELPER_SMS", "HELPER_EMAIL", "key-dir"])
    }

    /// The README's example file (its first `ini` block) says what it shows.
    @Test func theReadmeExampleResolves() throws {
        let readme = try String(
            contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
                .deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("README.md"),
            encoding: .utf8)
        let start = try #require(readme.range(of: "```ini\n"))
        let end = try #require(readme.range(of: "```", range: start.upperBound..<readme.endIndex))
        let example = String(readme[start.upperBound..<end.lowerBound])
        let settings = try Self.resolve(["/etc/tallystick/tallystick.conf": example])
        #expect(settings.port == 9966)
        #expect(settings.dataDirectory == "/var/lib/tallystick/eventlog")
        #expect(settings.helperEmail == "/usr/local/lib/tallystick/email-helper")
        #expect(settings.logLevel == .warning)
        #expect(settings.publicConfiguration.currency == "EUR")
    }

    @Test func keysAreUniqueInAnyCaseAndTalerOptionsNameRows() {
        let keys = ServerSettings.table.map { $0.key.lowercased() }
        #expect(Set(keys).count == keys.count)
        for taler in ServerSettings.talerOptions {
            #expect(ServerSettings.setting(key: taler.key) != nil, "\(taler.key)")
        }
    }
}
