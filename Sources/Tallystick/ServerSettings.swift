import EventLog
import Foundation
import Logging
import MerchantAPI
import TokenDomain
import TokenEngine

/// The server's settings, from flags, the environment and a config file, in that order of
/// precedence (a flag beats the environment, which beats the file, which beats the default).
///
/// | key (file) | flag | environment | default |
/// |---|---|---|---|
/// | `host` | `--host` | `TALLYSTICK_HOST` | `127.0.0.1` |
/// | `port` | `--port` | `TALLYSTICK_PORT` | `9966` |
/// | `data-dir` | `--data-dir` | `TALLYSTICK_DATA_DIR` | `eventlog/data` |
/// | `admin-password` | `--admin-password` | `TALER_MERCHANT_PASSWORD` | generated once |
/// | `admin-password-file` | `--admin-password-file` | `TALLYSTICK_ADMIN_PASSWORD_FILE` | none |
/// | `log-level` | `--log-level` | `TALLYSTICK_LOG_LEVEL` | `info` |
/// | `max-token-duration` | `--max-token-duration` | `TALLYSTICK_MAX_TOKEN_DURATION` | none |
/// | `HELPER_SMS` | `--helper-sms` | `TALLYSTICK_HELPER_SMS` | none |
/// | `HELPER_EMAIL` | `--helper-email` | `TALLYSTICK_HELPER_EMAIL` | none |
/// | `helper-timeout` | `--helper-timeout` | `TALLYSTICK_HELPER_TIMEOUT` | `30` (seconds) |
/// | `mandatory-2fa` | `--mandatory-2fa` | `TALLYSTICK_MANDATORY_2FA` | `no` |
/// | `tan-all-channels` | `--tan-all-channels` | `TALLYSTICK_TAN_ALL_CHANNELS` | `no` |
/// | `tan-digits` | `--tan-digits` | `TALLYSTICK_TAN_DIGITS` | `8` |
/// | `login-block-time` | `--login-block-time` | `TALLYSTICK_LOGIN_BLOCK_TIME` | `3600` (seconds) |
/// | `map-size` | `--map-size` | `TALLYSTICK_MAP_SIZE` | 64 MiB (or `max-map-size`) |
/// | `max-map-size` | `--max-map-size` | `TALLYSTICK_MAX_MAP_SIZE` | 1 TiB |
/// | `allow-external-auth` | `--allow-external-auth` | `TALLYSTICK_ALLOW_EXTERNAL_AUTH` | `no` |
/// | `trusted-proxies` | `--trusted-proxies` | `TALLYSTICK_TRUSTED_PROXIES` | none |
/// | `internal-listen` | `--internal-listen` | `TALLYSTICK_INTERNAL_LISTEN` | none (off) |
/// | `header-timeout` | `--header-timeout` | `TALLYSTICK_HEADER_TIMEOUT` | `10` (seconds) |
/// | `body-timeout` | `--body-timeout` | `TALLYSTICK_BODY_TIMEOUT` | `30` (seconds) |
/// | `idle-timeout` | `--idle-timeout` | `TALLYSTICK_IDLE_TIMEOUT` | `60` (seconds) |
/// | `max-connections` | `--max-connections` | `TALLYSTICK_MAX_CONNECTIONS` | 4096, at most the file limit less 64 (and 64 more with `internal-listen`) |
///
/// The config file (`--config FILE` or `TALLYSTICK_CONFIG`) has one `key = value` per line;
/// `#` starts a comment. Unknown keys are an error, so a typo does not go unnoticed.
///
/// `admin-password` and `admin-password-file` are one setting in two forms: when both are
/// given, the one from the stronger source wins; from the same source they are refused.
struct ServerSettings: Equatable {
    var host = "127.0.0.1"
    var port = 9966
    var dataDirectory = "eventlog/data"
    var adminPassword: String?
    var logLevel = Logger.Level.info
    /// Seconds; caps every token's lifetime, `forever` included.
    var maxTokenDuration: UInt64?
    /// Helper programs that send TANs (spec §6), by channel.
    var helperSMS: String?
    var helperEmail: String?
    /// Seconds a helper may run before it is killed and the request fails with 502.
    var helperTimeout = 30.0
    /// Every instance with an address must pass a challenge for protected operations.
    var mandatoryTwoFactor = false
    /// Every challenge of a `202` must be solved (`combi_and`), not just one.
    var tanAllChannels = false
    var tanDigits = 8
    /// Seconds password logins stay blocked after too many failed token challenges.
    var loginBlockTime: Int64 = 3_600
    /// Bytes; the log's LMDB map at open (it doubles when full).
    var mapSize: Int?
    /// Bytes; the map never grows past this, and appends beyond it fail (HTTP 500, code 54).
    var maxMapSize: Int?
    /// Whether `{"method":"external"}` (an instance with no checks at all) may be set.
    var allowExternalAuth = false
    /// Proxies whose `X-Forwarded-For`/`Forwarded` name the client (spec §10.4).
    var trustedProxies = TrustedProxies.none
    /// Where `/metrics` (and later forward-auth) is served: loopback or a UNIX socket only
    /// (spec §10.7). `nil`: no internal listener, so no metrics.
    var internalListen: InternalListenAddress?
    /// Seconds a request's headers, its body, and an idle keep-alive connection may take
    /// before the connection is closed (spec §10.5, ``ConnectionDeadlines``).
    var headerTimeout = 10.0
    var bodyTimeout = 30.0
    var idleTimeout = 60.0
    /// Connections the public listener holds at once; `nil`: the default, 4096. Lowered at
    /// start to fit the process's file limit (``ConnectionLimit``).
    var maxConnections: Int?
    static let defaultMaxConnections = 4096

    static let keys: [String: String] = [
        "host": "TALLYSTICK_HOST", "port": "TALLYSTICK_PORT", "data-dir": "TALLYSTICK_DATA_DIR",
        "admin-password": "TALER_MERCHANT_PASSWORD", "log-level": "TALLYSTICK_LOG_LEVEL",
        "max-token-duration": "TALLYSTICK_MAX_TOKEN_DURATION",
        "HELPER_SMS": "TALLYSTICK_HELPER_SMS", "HELPER_EMAIL": "TALLYSTICK_HELPER_EMAIL",
        "helper-timeout": "TALLYSTICK_HELPER_TIMEOUT", "mandatory-2fa": "TALLYSTICK_MANDATORY_2FA",
        "tan-all-channels": "TALLYSTICK_TAN_ALL_CHANNELS", "tan-digits": "TALLYSTICK_TAN_DIGITS",
        "login-block-time": "TALLYSTICK_LOGIN_BLOCK_TIME",
        "map-size": "TALLYSTICK_MAP_SIZE", "max-map-size": "TALLYSTICK_MAX_MAP_SIZE",
        "allow-external-auth": "TALLYSTICK_ALLOW_EXTERNAL_AUTH",
        "trusted-proxies": "TALLYSTICK_TRUSTED_PROXIES",
        "internal-listen": "TALLYSTICK_INTERNAL_LISTEN",
        "admin-password-file": "TALLYSTICK_ADMIN_PASSWORD_FILE",
        "header-timeout": "TALLYSTICK_HEADER_TIMEOUT", "body-timeout": "TALLYSTICK_BODY_TIMEOUT",
        "idle-timeout": "TALLYSTICK_IDLE_TIMEOUT", "max-connections": "TALLYSTICK_MAX_CONNECTIONS",
    ]

    struct Invalid: Error, CustomStringConvertible {
        var description: String
    }

    /// Resolves the settings. `flags` holds the keys given on the command line.
    static func resolve(
        flags: [String: String], environment: [String: String], configFile: String?
    ) throws -> ServerSettings {
        var values = [String: String]()
        // Where each value came from: 1 the file, 2 the environment, 3 a flag.
        var sources = [String: Int]()
        if let path = configFile ?? environment["TALLYSTICK_CONFIG"] {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw Invalid(description: "cannot read the config file \(path)")
            }
            for (key, value) in try parseFile(text, path: path) {
                values[key] = value
                sources[key] = 1
            }
        }
        for (key, variable) in keys {
            if let value = environment[variable], !value.isEmpty {
                values[key] = value
                sources[key] = 2
            }
        }
        for (key, value) in flags {
            values[key] = value
            sources[key] = 3
        }
        if let inline = sources["admin-password"], let file = sources["admin-password-file"] {
            guard inline != file else {
                throw Invalid(description: "give admin-password or admin-password-file, not both")
            }
            values.removeValue(forKey: inline > file ? "admin-password-file" : "admin-password")
        }
        var settings = ServerSettings()
        for (key, value) in values {
            switch key {
            case "host": settings.host = value
            case "port":
                guard let port = Int(value), (0...65535).contains(port) else {
                    throw Invalid(description: "port must be 0...65535")
                }
                settings.port = port
            case "data-dir": settings.dataDirectory = value
            case "admin-password": settings.adminPassword = value
            case "admin-password-file": settings.adminPassword = try readPasswordFile(value)
            case "log-level":
                guard let level = Logger.Level(rawValue: value) else {
                    throw Invalid(
                        description:
                            "log-level must be one of trace, debug, info, notice, warning, error, critical"
                    )
                }
                settings.logLevel = level
            case "max-token-duration":
                guard let seconds = UInt64(value), seconds > 0 else {
                    throw Invalid(
                        description: "max-token-duration must be a positive number of seconds")
                }
                settings.maxTokenDuration = seconds
            case "HELPER_SMS": settings.helperSMS = value.isEmpty ? nil : value
            case "HELPER_EMAIL": settings.helperEmail = value.isEmpty ? nil : value
            case "helper-timeout":
                guard let seconds = Double(value), seconds > 0, seconds <= 600 else {
                    throw Invalid(description: "helper-timeout must be 0 < seconds <= 600")
                }
                settings.helperTimeout = seconds
            case "mandatory-2fa": settings.mandatoryTwoFactor = try yesNo(key, value)
            case "tan-all-channels": settings.tanAllChannels = try yesNo(key, value)
            case "allow-external-auth": settings.allowExternalAuth = try yesNo(key, value)
            case "tan-digits":
                guard let digits = Int(value), (6...12).contains(digits) else {
                    throw Invalid(description: "tan-digits must be 6...12")
                }
                settings.tanDigits = digits
            case "login-block-time":
                guard let seconds = Int64(value), seconds > 0, seconds <= 31_536_000 else {
                    throw Invalid(description: "login-block-time must be 1...31536000 seconds")
                }
                settings.loginBlockTime = seconds
            case "map-size", "max-map-size":
                guard let bytes = Int(value), bytes >= 65536 else {
                    throw Invalid(description: "\(key) must be a number of bytes, at least 65536")
                }
                if key == "map-size" {
                    settings.mapSize = bytes
                } else {
                    settings.maxMapSize = bytes
                }
            case "trusted-proxies":
                do {
                    settings.trustedProxies = try TrustedProxies(parsing: value)
                } catch {
                    throw Invalid(description: error.description)
                }
            case "internal-listen":
                do {
                    settings.internalListen = try InternalListenAddress(parsing: value)
                } catch {
                    throw Invalid(description: error.description)
                }
            case "header-timeout", "body-timeout", "idle-timeout":
                guard let seconds = Double(value), seconds > 0, seconds <= 3_600 else {
                    throw Invalid(description: "\(key) must be 0 < seconds <= 3600")
                }
                switch key {
                case "header-timeout": settings.headerTimeout = seconds
                case "body-timeout": settings.bodyTimeout = seconds
                default: settings.idleTimeout = seconds
                }
            case "max-connections":
                guard let count = Int(value), (1...1_000_000).contains(count) else {
                    throw Invalid(description: "max-connections must be 1...1000000")
                }
                settings.maxConnections = count
            default:
                throw Invalid(description: "unknown setting \(key)")
            }
        }
        if let initial = settings.mapSize {
            let maximum =
                settings.maxMapSize
                ?? LMDBEventLog.Configuration(directory: settings.dataDirectory).maximumMapSize
            if initial > maximum {
                throw Invalid(
                    description:
                        "map-size (\(initial) bytes) is larger than max-map-size (\(maximum) bytes)"
                )
            }
        }
        return settings
    }

    /// The first line of the file at `path`, without its line ending (`--admin-password-file`:
    /// unlike a flag, a file is not shown to every local user by `ps`).
    static func readPasswordFile(_ path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Invalid(description: "cannot read the admin password file \(path)")
        }
        // Bytes, not Characters: "\r\n" is one Character and would never equal "\n".
        var line = data.prefix { $0 != UInt8(ascii: "\n") }
        if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
        guard !line.isEmpty else {
            throw Invalid(description: "the admin password file \(path) has an empty first line")
        }
        return String(decoding: line, as: UTF8.self)
    }

    static func yesNo(_ key: String, _ value: String) throws -> Bool {
        switch value.lowercased() {
        case "yes", "true", "1": return true
        case "no", "false", "0": return false
        default: throw Invalid(description: "\(key) must be yes or no")
        }
    }

    static func parseFile(_ text: String, path: String) throws -> [String: String] {
        var out = [String: String]()
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false)
            .enumerated()
        {
            let line =
                raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)
                .first?.trimmingCharacters(in: .whitespaces) ?? ""
            if line.isEmpty { continue }
            guard let equals = line.firstIndex(of: "=") else {
                throw Invalid(description: "\(path):\(number + 1): expected key = value")
            }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces)
            let value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            guard keys[key] != nil else {
                throw Invalid(description: "\(path):\(number + 1): unknown key \(key)")
            }
            out[key] = value
        }
        return out
    }
}

extension ServerSettings {
    /// The connection deadlines of both listeners.
    var timeouts: ConnectionDeadlines.Timeouts {
        ConnectionDeadlines.Timeouts(seconds: headerTimeout, body: bodyTimeout, idle: idleTimeout)
    }
}

extension ServerSettings {
    /// The engine's two-factor settings; the HMAC key of TAN hashes is read from (or created
    /// in) the data directory, so codes sent before a restart still verify after it.
    func twoFactor() throws -> TwoFactorConfiguration {
        var programs: [TANChannel: String] = [:]
        for (channel, path) in [(TANChannel.sms, helperSMS), (.email, helperEmail)] {
            guard let path else { continue }
            guard FileManager.default.isExecutableFile(atPath: path) else {
                throw Invalid(
                    description: "the \(channel.wireName) helper \(path) is not an executable file")
            }
            programs[channel] = path
        }
        var configuration = TwoFactorConfiguration()
        if !programs.isEmpty {
            configuration.sender = HelperPrograms(
                programs: programs, timeout: .milliseconds(Int64(helperTimeout * 1_000)))
        }
        configuration.mandatory = mandatoryTwoFactor
        configuration.requireAllChannels = tanAllChannels
        configuration.codeDigits = tanDigits
        configuration.policy.loginBlockDuration = loginBlockTime * 1_000_000
        configuration.codeKey = try TANKeyFile.loadOrCreate(in: dataDirectory)
        return configuration
    }
}

/// The key of TAN hashes: 32 random bytes in `tan.key` beside the event log, readable by the
/// server's user only. It is not in the log on purpose: with it, the hash of an 8-digit code
/// could be reversed by trying every code.
enum TANKeyFile {
    static let name = "tan.key"

    static func loadOrCreate(in directory: String) throws -> [UInt8] {
        let path = (directory as NSString).appendingPathComponent(name)
        if let data = FileManager.default.contents(atPath: path) {
            guard data.count == 32 else {
                throw ServerSettings.Invalid(
                    description:
                        "\(path) must hold exactly 32 bytes (move it away to make a new one)")
            }
            return Array(data)
        }
        try FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true)
        let key = TANCodes.randomKey()
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else {
            throw ServerSettings.Invalid(description: "cannot create \(path)")
        }
        defer { close(fd) }
        fchmod(fd, 0o600)  // the umask may have taken the owner's bits
        let written = key.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == key.count, fsync(fd) == 0 else {
            throw ServerSettings.Invalid(description: "cannot write \(path)")
        }
        return key
    }
}
