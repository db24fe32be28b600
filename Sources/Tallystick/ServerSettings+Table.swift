import EventLogPostgres
import Foundation
import Logging
import MerchantAPI

/// One setting of `tallystick`: where it may come from (flag, environment variable, config
/// file key), its default, what it means, and how its text is applied.
///
/// ``ServerSettings/table`` is the one list: every subcommand resolves its settings from it
/// (flags beat the environment, which beats the file, which beats the default; unknown file
/// keys and flags are refused), `--help` lists it, and a test checks the README's settings
/// table against it.
struct Setting: Sendable {
    /// The key in the config file (`key = value`, or in `[tallystick]`, any case).
    let key: String
    /// The long flag, without its dashes.
    let flag: String
    let environment: String
    /// The default as the README and `--help` show it.
    let defaultText: String
    /// What it means, one line.
    let meaning: String
    /// The placeholder of its value in `--help` (`SECONDS`, `PATH`, ...).
    let valueName: String
    let apply: @Sendable (inout ServerSettings, String) throws -> Void

    /// The README's row: key, flag, environment, default, meaning.
    var markdownRow: String {
        "| `\(key)` | `--\(flag)` | `\(environment)` | \(defaultText) | \(meaning) |"
    }
}

extension ServerSettings {
    /// Every setting, in the order the README and `--help` list them.
    static let table: [Setting] = [
        Setting(
            key: "host", flag: "host", environment: "TALLYSTICK_HOST", defaultText: "`127.0.0.1`",
            meaning: "address to listen on", valueName: "ADDRESS"
        ) { $0.host = $1 },
        Setting(
            key: "port", flag: "port", environment: "TALLYSTICK_PORT", defaultText: "`9966`",
            meaning: "port (0: any free one; the bound port is printed)", valueName: "PORT"
        ) { s, value in
            guard let port = Int(value), (0...65535).contains(port) else {
                throw Invalid(description: "port must be 0...65535")
            }
            s.port = port
        },
        Setting(
            key: "data-dir", flag: "data-dir", environment: "TALLYSTICK_DATA_DIR",
            defaultText: "`eventlog/data`",
            meaning:
                "event log directory (created `0700`; refused when group or others can write it)",
            valueName: "DIR"
        ) { $0.dataDirectory = $1 },
        Setting(
            key: "admin-password", flag: "admin-password", environment: "TALER_MERCHANT_PASSWORD",
            defaultText: "generated, printed once",
            meaning:
                "password of `admin` when it is created (the flag is visible in `ps`: it warns)",
            valueName: "PASSWORD"
        ) { $0.adminPassword = $1 },
        Setting(
            key: "admin-password-file", flag: "admin-password-file",
            environment: "TALLYSTICK_ADMIN_PASSWORD_FILE", defaultText: "none",
            meaning:
                "file whose first line (line ending stripped) is that password; from the same source as `admin-password`, refused",
            valueName: "PATH"
        ) { s, value in s.adminPassword = try readPasswordFile(value) },
        Setting(
            key: "log-level", flag: "log-level", environment: "TALLYSTICK_LOG_LEVEL",
            defaultText: "`info`",
            meaning: "`trace` … `critical`; `info` logs one line per request", valueName: "LEVEL"
        ) { s, value in
            guard let level = Logger.Level(rawValue: value) else {
                throw Invalid(
                    description:
                        "log-level must be one of trace, debug, info, notice, warning, error, critical"
                )
            }
            s.logLevel = level
        },
        Setting(
            key: "max-token-duration", flag: "max-token-duration",
            environment: "TALLYSTICK_MAX_TOKEN_DURATION", defaultText: "none",
            meaning: "seconds; caps every token's lifetime, `forever` included",
            valueName: "SECONDS"
        ) { s, value in
            guard let seconds = UInt64(value), seconds > 0 else {
                throw Invalid(
                    description: "max-token-duration must be a positive number of seconds")
            }
            s.maxTokenDuration = seconds
        },
        Setting(
            key: "HELPER_SMS", flag: "helper-sms", environment: "TALLYSTICK_HELPER_SMS",
            defaultText: "none", meaning: "program that sends a TAN by SMS", valueName: "PATH"
        ) { $0.helperSMS = $1.isEmpty ? nil : $1 },
        Setting(
            key: "HELPER_EMAIL", flag: "helper-email", environment: "TALLYSTICK_HELPER_EMAIL",
            defaultText: "none", meaning: "program that sends a TAN by e-mail", valueName: "PATH"
        ) { $0.helperEmail = $1.isEmpty ? nil : $1 },
        Setting(
            key: "helper-timeout", flag: "helper-timeout", environment: "TALLYSTICK_HELPER_TIMEOUT",
            defaultText: "`30`", meaning: "seconds before a helper is killed (502)",
            valueName: "SECONDS"
        ) { s, value in
            guard let seconds = Double(value), seconds > 0, seconds <= 600 else {
                throw Invalid(description: "helper-timeout must be 0 < seconds <= 600")
            }
            s.helperTimeout = seconds
        },
        Setting(
            key: "mandatory-2fa", flag: "mandatory-2fa", environment: "TALLYSTICK_MANDATORY_2FA",
            defaultText: "`no`", meaning: "every instance with an address needs a challenge",
            valueName: "yes|no"
        ) { s, value in s.mandatoryTwoFactor = try yesNo("mandatory-2fa", value) },
        Setting(
            key: "tan-all-channels", flag: "tan-all-channels",
            environment: "TALLYSTICK_TAN_ALL_CHANNELS", defaultText: "`no`",
            meaning: "`combi_and`: every channel's challenge must be solved", valueName: "yes|no"
        ) { s, value in s.tanAllChannels = try yesNo("tan-all-channels", value) },
        Setting(
            key: "tan-digits", flag: "tan-digits", environment: "TALLYSTICK_TAN_DIGITS",
            defaultText: "`8`", meaning: "digits per TAN (6–12)", valueName: "DIGITS"
        ) { s, value in
            guard let digits = Int(value), (6...12).contains(digits) else {
                throw Invalid(description: "tan-digits must be 6...12")
            }
            s.tanDigits = digits
        },
        Setting(
            key: "login-block-time", flag: "login-block-time",
            environment: "TALLYSTICK_LOGIN_BLOCK_TIME", defaultText: "`3600`",
            meaning:
                "seconds password logins and every challenge stay blocked after 10 failed confirmations in a row (any operation's)",
            valueName: "SECONDS"
        ) { s, value in
            guard let seconds = Int64(value), seconds > 0, seconds <= 31_536_000 else {
                throw Invalid(description: "login-block-time must be 1...31536000 seconds")
            }
            s.loginBlockTime = seconds
        },
        Setting(
            key: "allow-external-auth", flag: "allow-external-auth",
            environment: "TALLYSTICK_ALLOW_EXTERNAL_AUTH", defaultText: "`no`",
            meaning:
                "`yes` lets instances be set to `{\"method\":\"external\"}` (no checks at all)",
            valueName: "yes|no"
        ) { s, value in s.allowExternalAuth = try yesNo("allow-external-auth", value) },
        Setting(
            key: "trusted-proxies", flag: "trusted-proxies",
            environment: "TALLYSTICK_TRUSTED_PROXIES", defaultText: "none",
            meaning:
                "reverse proxies whose `X-Forwarded-For`/`Forwarded` name the client: addresses, CIDR blocks (`10.0.0.0/8`, `2001:db8::/32`) or `unix` (peers without an IP address), comma-separated; see Security",
            valueName: "LIST"
        ) { s, value in s.trustedProxies = try parsed { try TrustedProxies(parsing: value) } },
        Setting(
            key: "header-timeout", flag: "header-timeout", environment: "TALLYSTICK_HEADER_TIMEOUT",
            defaultText: "`10`",
            meaning:
                "seconds from a request's first byte (or the connection's accept) to the end of its headers",
            valueName: "SECONDS"
        ) { s, value in s.headerTimeout = try deadline("header-timeout", value) },
        Setting(
            key: "body-timeout", flag: "body-timeout", environment: "TALLYSTICK_BODY_TIMEOUT",
            defaultText: "`30`", meaning: "seconds from a request's headers to the end of its body",
            valueName: "SECONDS"
        ) { s, value in s.bodyTimeout = try deadline("body-timeout", value) },
        Setting(
            key: "idle-timeout", flag: "idle-timeout", environment: "TALLYSTICK_IDLE_TIMEOUT",
            defaultText: "`60`",
            meaning: "seconds a keep-alive connection may wait for its next request",
            valueName: "SECONDS"
        ) { s, value in s.idleTimeout = try deadline("idle-timeout", value) },
        Setting(
            key: "max-connections", flag: "max-connections",
            environment: "TALLYSTICK_MAX_CONNECTIONS", defaultText: "4096",
            meaning:
                "connections served at once, lowered at start to the file limit (`ulimit -n`) less 64 (less 64 more with `internal-listen`)",
            valueName: "COUNT"
        ) { s, value in
            guard let count = Int(value), (1...1_000_000).contains(count) else {
                throw Invalid(description: "max-connections must be 1...1000000")
            }
            s.maxConnections = count
        },
        Setting(
            key: "internal-listen", flag: "internal-listen",
            environment: "TALLYSTICK_INTERNAL_LISTEN", defaultText: "none (off)",
            meaning:
                "loopback `address:port` (`127.0.0.1:9967`, `[::1]:9967`, port 0: any free one) or UNIX socket path where `/metrics` is served; see Security",
            valueName: "ADDRESS"
        ) { s, value in
            s.internalListen = try parsed { try InternalListenAddress(parsing: value) }
        },
        Setting(
            key: "currency", flag: "currency", environment: "TALLYSTICK_CURRENCY",
            defaultText: "`KUDOS`",
            meaning: "the currency `GET /config` names (Taler's `[taler] CURRENCY`)",
            valueName: "CODE"
        ) { s, value in
            guard (1...11).contains(value.utf8.count),
                value.utf8.allSatisfy({ (65...90).contains($0) })
            else { throw Invalid(description: "currency must be 1 to 11 letters A-Z") }
            s.publicConfiguration.currency = value
        },
        Setting(
            key: "currency-fraction-digits", flag: "currency-fraction-digits",
            environment: "TALLYSTICK_CURRENCY_FRACTION_DIGITS", defaultText: "`2`",
            meaning: "fraction digits clients type and show for the currency (0–8)",
            valueName: "DIGITS"
        ) { s, value in
            guard let digits = Int(value), (0...8).contains(digits) else {
                throw Invalid(description: "currency-fraction-digits must be 0...8")
            }
            s.publicConfiguration.fractionDigits = digits
        },
        Setting(
            key: "payment-target-types", flag: "payment-target-types",
            environment: "TALLYSTICK_PAYMENT_TARGET_TYPES", defaultText: "`*`",
            meaning: "the wire methods `GET /config` lists (`payment_target_types`, e.g. `iban`)",
            valueName: "TYPES"
        ) { s, value in s.publicConfiguration.paymentTargetTypes = value },
        Setting(
            key: "map-size", flag: "map-size", environment: "TALLYSTICK_MAP_SIZE",
            defaultText: "64 MiB",
            meaning:
                "bytes of the log's LMDB map at start (at most `max-map-size`); it doubles when full",
            valueName: "BYTES"
        ) { s, value in s.mapSize = try mapBytes("map-size", value) },
        Setting(
            key: "max-map-size", flag: "max-map-size", environment: "TALLYSTICK_MAX_MAP_SIZE",
            defaultText: "1 TiB",
            meaning: "bytes the map never grows past; appends beyond it get 500, code 54",
            valueName: "BYTES"
        ) { s, value in s.maxMapSize = try mapBytes("max-map-size", value) },
        Setting(
            key: "store", flag: "store", environment: "TALLYSTICK_STORE",
            defaultText: "`lmdb`",
            meaning:
                "the event log: `lmdb` (in `data-dir`) or PostgreSQL, `postgres://USER@/DB?host=/socket/dir` or `postgres://USER:PW@HOST:PORT/DB`, which several servers share (see Several servers)",
            valueName: "URL"
        ) { s, value in
            if value.isEmpty || value == "lmdb" {
                s.postgres = nil
                return
            }
            _ = try parsed { try PostgresLocation(value) }
            s.postgres = value
        },
        Setting(
            key: "key-dir", flag: "key-dir", environment: "TALLYSTICK_KEY_DIR",
            defaultText: "the data directory",
            meaning:
                "directory of `tan.key`, `merchant.key`, `tree-head.key` and `backend-credentials` (each `0600`); servers sharing one store must share it",
            valueName: "DIR"
        ) { s, value in s.keyDir = value.isEmpty ? nil : value },
        Setting(
            key: "seal-interval", flag: "seal-interval", environment: "TALLYSTICK_SEAL_INTERVAL",
            defaultText: "`10`",
            meaning:
                "seconds between signed tree heads (recorded only when there were appends; 0: none are signed); see Proofs for auditors",
            valueName: "SECONDS"
        ) { s, value in
            guard let seconds = Double(value), seconds >= 0, seconds <= 86_400 else {
                throw Invalid(description: "seal-interval must be 0 <= seconds <= 86400")
            }
            s.sealInterval = seconds
        },
        Setting(
            key: "checkpoint-interval", flag: "checkpoint-interval",
            environment: "TALLYSTICK_CHECKPOINT_INTERVAL", defaultText: "`100000`",
            meaning:
                "events between checkpoints of the state (written in the background, only what changed; 0: none); a restart folds the events after the newest",
            valueName: "EVENTS"
        ) { s, value in
            guard let events = Int(value), events >= 0 else {
                throw Invalid(description: "checkpoint-interval must be a count of events >= 0")
            }
            s.checkpointInterval = events
        },
        Setting(
            key: "upstream", flag: "upstream", environment: "TALLYSTICK_UPSTREAM",
            defaultText: "none (standalone)",
            meaning:
                "the merchant backend kept in step: `http://` on loopback (`http://127.0.0.1:9966`) or `unix:/PATH`; see Operating beside a merchant",
            valueName: "URL"
        ) { s, value in
            s.upstream = value.isEmpty ? nil : try parsed { try UpstreamAddress(parsing: value) }
        },
    ]

    /// The setting with config-file key `key`.
    static func setting(key: String) -> Setting? { table.first { $0.key == key } }

    /// The setting of flag `--flag`.
    static func setting(flag: String) -> Setting? { table.first { $0.flag == flag } }

    /// What `parse` returns; its error as one ``Invalid`` line.
    private static func parsed<T>(_ parse: () throws -> T) throws -> T {
        do { return try parse() } catch { throw Invalid(description: "\(error)") }
    }

    private static func deadline(_ key: String, _ value: String) throws -> Double {
        guard let seconds = Double(value), seconds > 0, seconds <= 3_600 else {
            throw Invalid(description: "\(key) must be 0 < seconds <= 3600")
        }
        return seconds
    }

    private static func mapBytes(_ key: String, _ value: String) throws -> Int {
        guard let bytes = Int(value), bytes >= 65536 else {
            throw Invalid(description: "\(key) must be a number of bytes, at least 65536")
        }
        return bytes
    }

    /// The README's settings table (header included).
    static var markdownTable: String {
        (["| file key | flag | environment | default | meaning |", "|---|---|---|---|---|"]
            + table.map(\.markdownRow)).joined(separator: "\n")
    }

    /// The settings as `--help` lists them: the flag with its variable, file key and
    /// default, then what it means.
    static var helpText: String {
        var lines = [
            "SETTINGS (a flag beats the environment, which beats the config file, which",
            "beats the default). --config FILE or TALLYSTICK_CONFIG names the file: Taler's",
            "INI format, the keys below (any case) in a [tallystick] section, $VAR expanded",
            "in PATH and DIR values, [merchant] HELPER_SMS and HELPER_EMAIL and [taler]",
            "CURRENCY read when [tallystick] lacks them; or key = value lines, no section:",
        ]
        for setting in table {
            let plain = { (text: String) in text.replacingOccurrences(of: "`", with: "") }
            lines.append(
                "  --\(setting.flag) \(setting.valueName)  (\(setting.environment), "
                    + "\(setting.key), default \(plain(setting.defaultText)))")
            lines.append("      \(plain(setting.meaning))")
        }
        return lines.joined(separator: "\n")
    }
}
