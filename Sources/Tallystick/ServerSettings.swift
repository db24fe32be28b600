import ArgumentParser
import EventLog
import EventLogPostgres
import Foundation
import Logging
import MerchantAPI
import TokenDomain
import TokenEngine

/// The server's settings, from flags, the environment and a config file, in that order of
/// precedence (a flag beats the environment, which beats the file, which beats the default).
/// Every setting, with its flag, variable, file key and default, is one row of
/// ``ServerSettings/table`` (`ServerSettings+Table.swift`); `serve`, `passwd` and `status`
/// all resolve theirs through ``SettingsOptions``.
///
/// One small resolver rather than apple/swift-configuration: that package reads JSON/YAML
/// files and the environment, but not Taler's INI files with their refusal of unknown
/// keys, and it would not list the settings for `--help` or the README.
///
/// The config file (`--config FILE` or `TALLYSTICK_CONFIG`) is either Taler's INI format,
/// with the settings in a `[tallystick]` section (``TalerConfigFile``), or, when it has no
/// `[section]` header and no `@inline@` line, the older format of one `key = value` per
/// line, read exactly as before (`ServerSettings+ConfigFile.swift`). Unknown keys are an
/// error in both, so a typo does not go unnoticed.
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
    /// What `GET /config` says about the currency (spec §9).
    var publicConfiguration = PublicConfiguration()
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
    /// The merchant backend kept in step (spec §9); `nil`: standalone.
    var upstream: UpstreamAddress?
    /// Seconds between signed tree heads (``TreeHeadSealing``); 0: none are signed.
    var sealInterval = 10.0
    /// Events between checkpoints (``EngineConfiguration/checkpointInterval``).
    var checkpointInterval = 100_000
    /// Where `tan.key`, `merchant.key`, `tree-head.key` and `backend-credentials` live; `nil`: the data
    /// directory. Servers sharing one store must share these files.
    var keyDir: String?

    /// The event log's store: PostgreSQL at this URL (the forms of `PostgresLocation`), or
    /// `nil` for LMDB in the data directory.
    var postgres: String?

    /// The directory of the files every server of one log must share (``keyDir``).
    var keyDirectory: String { keyDir ?? dataDirectory }

    struct Invalid: Error, CustomStringConvertible {
        var description: String
    }

    /// Resolves the settings. `flags` holds the keys given on the command line; `files`
    /// reads the config file and the files it includes.
    /// - Throws: ``Invalid`` (one line) for a config file that cannot be read or parsed, an
    ///   unknown key, or a value a setting refuses (with the file and line it came from).
    static func resolve(
        flags: [String: String], environment: [String: String], configFile: String?,
        files: TalerConfigFile.Files = .disk
    ) throws -> ServerSettings {
        var values = [String: String]()
        // Where each value came from: 1 the file, 2 the environment, 3 a flag.
        var sources = [String: Int]()
        var locations = [String: TalerConfigFile.Location]()
        if let path = configFile ?? environment["TALLYSTICK_CONFIG"] {
            let file = try readConfigFile(path, environment: environment, files: files)
            for (key, value) in file {
                values[key] = value.value
                sources[key] = 1
                locations[key] = value.location
            }
        }
        for setting in table {
            if let value = environment[setting.environment], !value.isEmpty {
                values[setting.key] = value
                sources[setting.key] = 2
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
        for (key, value) in values.sorted(by: { $0.key < $1.key }) {
            guard let setting = setting(key: key) else {
                throw Invalid(description: "unknown setting \(key)")
            }
            do {
                try setting.apply(&settings, value)
            } catch {
                guard sources[key] == 1, let location = locations[key] else { throw error }
                throw Invalid(description: "\(location): \(error)")
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

    /// The settings given as flags (`--flag VALUE` or `--flag=VALUE`), by file key.
    /// - Throws: ``Invalid`` for an unknown flag, a flag without a value, or one given twice.
    static func parseFlags(_ arguments: [String]) throws -> [String: String] {
        var out = [String: String]()
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            guard argument.hasPrefix("--") else {
                throw Invalid(description: "unexpected argument '\(argument)'")
            }
            var name = String(argument.dropFirst(2))
            var value: String?
            if let equals = name.firstIndex(of: "=") {
                value = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            guard let setting = setting(flag: name) else {
                throw Invalid(description: "unknown option '--\(name)'")
            }
            if value == nil {
                index += 1
                guard index < arguments.count else {
                    throw Invalid(description: "missing value for '--\(name)'")
                }
                value = arguments[index]
            }
            guard out.updateValue(value!, forKey: setting.key) == nil else {
                throw Invalid(description: "'--\(name)' given twice")
            }
            index += 1
        }
        return out
    }
}

extension ServerSettings {
    /// How to open the event log: the data directory and the map sizes.
    var logConfiguration: LMDBEventLog.Configuration {
        var configuration = LMDBEventLog.Configuration(directory: dataDirectory)
        if let maximum = maxMapSize {
            configuration.maximumMapSize = maximum
            configuration.initialMapSize = min(configuration.initialMapSize, maximum)
        }
        if let initial = mapSize { configuration.initialMapSize = initial }
        return configuration
    }

    /// Opens the event log for writing (every command does: the log's lock is a writer's),
    /// and prints the data directory's warning if there is one.
    /// - Parameter needsServerStopped: a command that runs while no server does (`passwd`,
    ///   `status`, `backend-credential`): a lock held by another process is then a server,
    ///   and the one line says to stop it.
    /// - Throws: `ValidationError` with one line naming the data directory.
    func openLog(needsServerStopped: Bool) throws -> LMDBEventLog {
        let log: LMDBEventLog
        do {
            log = try LMDBEventLog.open(logConfiguration)
        } catch EventLogError.lockedByAnotherProcess(_) where needsServerStopped {
            throw ValidationError(
                "a server holds the event log in \(dataDirectory); stop it first")
        } catch {
            throw ValidationError("cannot open the event log in \(dataDirectory): \(error)")
        }
        if let warning = log.directoryWarning { warn(warning) }
        return log
    }

    /// The event log of setting `store`: LMDB in the data directory (``openLog(needsServerStopped:)``)
    /// or PostgreSQL, which several servers and the offline commands may write at once.
    /// - Throws: `ValidationError` with one line naming the store.
    func openStore(needsServerStopped: Bool) async throws -> any EventStore {
        guard let postgres else { return try openLog(needsServerStopped: needsServerStopped) }
        do {
            return try await PostgresEventLog.open(url: postgres)
        } catch {
            throw ValidationError("cannot open the event log in PostgreSQL: \(error)")
        }
    }

    /// The log and an engine over it for an offline command (`backend-credential`,
    /// `upstream`): with LMDB the writer lock keeps a server out; the engine has the shared
    /// files' backend credentials and, with `upstream` set, the merchant.
    /// - Throws: `ValidationError` with one line; the log is closed again.
    func openOffline() async throws -> (any EventStore, TokenEngine) {
        let log = try await openStore(needsServerStopped: true)
        var configuration = EngineConfiguration()
        do {
            configuration.backendCredentials = try BackendCredentialStore(directory: keyDirectory)
            configuration.merchant = try merchantBackend()
            return (
                log,
                try await TokenEngine(
                    log: log, configuration: configuration, clock: SystemLogClock())
            )
        } catch {
            await log.close()
            throw ValidationError("\(error)")
        }
    }

    /// The connection deadlines of both listeners.
    var timeouts: ConnectionDeadlines.Timeouts {
        ConnectionDeadlines.Timeouts(seconds: headerTimeout, body: bodyTimeout, idle: idleTimeout)
    }
}

extension ServerSettings {
    /// The merchant backend of setting `upstream`, with the key of its passwords
    /// (`merchant.key`, made at first use); `nil` when standalone.
    func merchantBackend() throws -> MerchantBackend? {
        guard let upstream else { return nil }
        return MerchantBackend(
            transport: MerchantHTTPClient(address: upstream),
            passwordKey: try SecretKeyFile.loadOrCreate(.merchant, in: keyDirectory))
    }

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
        configuration.codeKey = try SecretKeyFile.loadOrCreate(.tan, in: keyDirectory)
        return configuration
    }
}
