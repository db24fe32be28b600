import Foundation
import Logging

/// The server's settings, from flags, the environment and a config file, in that order of
/// precedence (a flag beats the environment, which beats the file, which beats the default).
///
/// | key (file) | flag | environment | default |
/// |---|---|---|---|
/// | `host` | `--host` | `TALLYSTICK_HOST` | `127.0.0.1` |
/// | `port` | `--port` | `TALLYSTICK_PORT` | `9966` |
/// | `data-dir` | `--data-dir` | `TALLYSTICK_DATA_DIR` | `eventlog/data` |
/// | `admin-password` | `--admin-password` | `TALER_MERCHANT_PASSWORD` | generated once |
/// | `log-level` | `--log-level` | `TALLYSTICK_LOG_LEVEL` | `info` |
/// | `max-token-duration` | `--max-token-duration` | `TALLYSTICK_MAX_TOKEN_DURATION` | none |
/// | `map-size` | `--map-size` | `TALLYSTICK_MAP_SIZE` | 64 MiB (or `max-map-size`) |
/// | `max-map-size` | `--max-map-size` | `TALLYSTICK_MAX_MAP_SIZE` | 1 TiB |
///
/// The config file (`--config FILE` or `TALLYSTICK_CONFIG`) has one `key = value` per line;
/// `#` starts a comment. Unknown keys are an error, so a typo does not go unnoticed.
struct ServerSettings: Equatable {
    var host = "127.0.0.1"
    var port = 9966
    var dataDirectory = "eventlog/data"
    var adminPassword: String?
    var logLevel = Logger.Level.info
    /// Seconds; caps every token's lifetime, `forever` included.
    var maxTokenDuration: UInt64?
    /// Bytes; the log's LMDB map at open (it doubles when full).
    var mapSize: Int?
    /// Bytes; the map never grows past this, and appends beyond it fail (HTTP 500, code 54).
    var maxMapSize: Int?

    static let keys: [String: String] = [
        "host": "TALLYSTICK_HOST", "port": "TALLYSTICK_PORT", "data-dir": "TALLYSTICK_DATA_DIR",
        "admin-password": "TALER_MERCHANT_PASSWORD", "log-level": "TALLYSTICK_LOG_LEVEL",
        "max-token-duration": "TALLYSTICK_MAX_TOKEN_DURATION",
        "map-size": "TALLYSTICK_MAP_SIZE", "max-map-size": "TALLYSTICK_MAX_MAP_SIZE",
    ]

    struct Invalid: Error, CustomStringConvertible {
        var description: String
    }

    /// Resolves the settings. `flags` holds the keys given on the command line.
    static func resolve(
        flags: [String: String], environment: [String: String], configFile: String?
    ) throws -> ServerSettings {
        var values = [String: String]()
        if let path = configFile ?? environment["TALLYSTICK_CONFIG"] {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw Invalid(description: "cannot read the config file \(path)")
            }
            values.merge(try parseFile(text, path: path)) { $1 }
        }
        for (key, variable) in keys {
            if let value = environment[variable], !value.isEmpty { values[key] = value }
        }
        values.merge(flags) { $1 }
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
            case "map-size", "max-map-size":
                guard let bytes = Int(value), bytes >= 65536 else {
                    throw Invalid(description: "\(key) must be a number of bytes, at least 65536")
                }
                if key == "map-size" {
                    settings.mapSize = bytes
                } else {
                    settings.maxMapSize = bytes
                }
            default:
                throw Invalid(description: "unknown setting \(key)")
            }
        }
        return settings
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
