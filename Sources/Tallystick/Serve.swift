import ArgumentParser
import EventLog
import Foundation
import Hummingbird
import Logging
import MerchantAPI
import ServiceLifecycle
import TokenDomain
import TokenEngine

/// `tallystick serve`: the HTTP server.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the Taler merchant auth API.",
        discussion: """
            Settings come from flags, then the environment, then a config file (see the
            README for every key). At first start, when the log has no `admin` instance, it
            is created with the admin password; with none given, one is generated and printed
            once (only its hash is stored). SIGTERM or SIGINT stops accepting connections,
            finishes the requests in flight, closes the log and exits 0.
              tallystick serve
              TALER_MERCHANT_PASSWORD=secret tallystick serve --port 8080
              tallystick serve --admin-password-file /run/secrets/tallystick-admin
              tallystick serve --config /etc/tallystick.conf --log-level warning

            """ + ServerSettings.helpText)

    @OptionGroup var options: SettingsOptions

    func run() async throws {
        let (settings, flagged) = try options.resolve()
        if flagged.contains("admin-password") {
            warn(
                "--admin-password on the command line is visible to every local user (ps, "
                    + "/proc); use TALER_MERCHANT_PASSWORD or --admin-password-file instead")
        }
        let level = settings.logLevel
        LoggingSystem.bootstrap { label in ServerLogHandler(label: label, logLevel: level) }
        let logger = Logger(label: "tallystick")
        let maximumConnections = try Self.connectionLimit(settings, logger: logger)

        let log = try await settings.openStore(needsServerStopped: false)
        var engineConfiguration = EngineConfiguration()
        engineConfiguration.maxTokenDuration = settings.maxTokenDuration.map { $0 * 1_000_000 }
        engineConfiguration.allowExternalAuth = settings.allowExternalAuth
        engineConfiguration.checkpointInterval = settings.checkpointInterval
        engineConfiguration.checkpointSaved = { [logger] report in
            logger.notice(
                "checkpoint saved",
                metadata: [
                    "sequence": "\(report.sequence)",
                    "seconds": "\(String(format: "%.3f", report.seconds))",
                    "copy-ms": "\(String(format: "%.3f", report.copySeconds * 1_000))",
                    "instances-written": "\(report.instancesWritten)",
                    "chunks-written": "\(report.chunksWritten)",
                    "parts": "\(report.parts)",
                    "bytes-written": "\(report.partBytes + report.manifestBytes)",
                ])
        }
        // Other servers may append to a PostgreSQL log: fold their records too.
        engineConfiguration.sharedLog = settings.postgres != nil
        if engineConfiguration.sharedLog {
            // A checkpoint of this server's own, found again when it restarts on the same
            // machine and port (with port 0, one per process).
            let listener = settings.port == 0 ? "pid-\(getpid())" : "\(settings.port)"
            engineConfiguration.checkpointName =
                "\(ReplayedState.checkpointName)@\(ProcessInfo.processInfo.hostName.prefix(100)):\(listener)"
        }
        do {
            engineConfiguration.backendCredentials = try BackendCredentialStore(
                directory: settings.keyDirectory)
        } catch {
            await log.close()
            throw ValidationError("\(error)")
        }
        do {
            engineConfiguration.twoFactor = try settings.twoFactor()
        } catch {
            await log.close()
            throw ValidationError("\(error)")
        }
        do {
            engineConfiguration.merchant = try settings.merchantBackend()
        } catch {
            await log.close()
            throw ValidationError("\(error)")
        }
        if settings.sealInterval > 0 {
            do {
                engineConfiguration.treeHeadSigner = try TreeHeadSigner(
                    rawKey: SecretKeyFile.loadOrCreate(.treeHead, in: settings.keyDirectory))
            } catch {
                await log.close()
                throw ValidationError("\(error)")
            }
        }
        engineConfiguration.failpoint = ProcessInfo.processInfo.environment["TALLYSTICK_FAILPOINT"]
            .flatMap(Failpoint.init(rawValue:))
        let clock = SystemLogClock()
        let engine: TokenEngine
        do {
            engine = try await TokenEngine(
                log: log, configuration: engineConfiguration, clock: clock)
            try await Self.bootstrapAdmin(engine, password: settings.adminPassword)
        } catch {
            await log.close()
            throw ValidationError("cannot start: \(error)")
        }
        if !settings.allowExternalAuth {
            Self.warnAboutOpenInstances(engine)
        }
        for warning in engine.backendCredentialWarnings() { warn(warning) }

        if settings.trustedProxies != .none {
            logger.info(
                "client addresses from forwarded headers",
                metadata: ["trusted-proxies": "\(settings.trustedProxies)"])
        }
        let api = MerchantAPI(
            engine: engine, clock: clock, trustedProxies: settings.trustedProxies,
            metrics: MerchantMetrics(statistics: { (log as? LMDBEventLog)?.writerStatistics }),
            publicConfiguration: settings.publicConfiguration, logger: logger)
        let app = Application(
            router: api.buildRouter(),
            server: .http1(
                configuration: ConnectionDeadlines.channelConfiguration(
                    settings.timeouts, onTimeout: { api.metrics.recordConnectionTimeout($0) })),
            configuration: .init(
                address: .hostname(settings.host, port: settings.port), serverName: "tallystick",
                availableConnectionsDelegate: ConnectionLimit(
                    maximum: maximumConnections, logger: logger)),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? settings.port
                say("tallystick: listening on http://\(settings.host):\(port)")
            },
            logger: logger)
        var services: [any Service] = [app]
        if let address = settings.internalListen {
            services.append(
                Self.internalApplication(
                    api, at: address, timeouts: settings.timeouts, logger: logger))
        }
        if settings.sealInterval > 0 {
            services.append(
                TreeHeadSealing(
                    engine: engine, clock: clock,
                    interval: .milliseconds(Int64(settings.sealInterval * 1_000)),
                    logger: logger))
        }
        let group = ServiceGroup(
            configuration: .init(
                services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch {
            await log.close()
            throw error
        }
        await log.close()
        logger.info("stopped; event log closed")
    }

    /// The internal listener (spec §10.7): `api`'s internal routes on `address`, beside the
    /// public application in the same service group. A UNIX socket gets mode 0660 (owner and
    /// group, e.g. the reverse proxy's, may connect; others may not, whatever the umask).
    static func internalApplication(
        _ api: MerchantAPI, at address: InternalListenAddress,
        timeouts: ConnectionDeadlines.Timeouts, logger: Logger
    ) -> some Service {
        Application(
            router: api.buildInternalRouter(),
            server: .http1(
                configuration: ConnectionDeadlines.channelConfiguration(
                    timeouts, onTimeout: { api.metrics.recordConnectionTimeout($0) }, checks: api)),
            configuration: .init(
                address: address.bindAddress, serverName: "tallystick",
                availableConnectionsDelegate: ConnectionLimit(
                    maximum: ConnectionLimit.internalMaximum, logger: logger)),
            onServerRunning: { channel in
                var bound = address
                switch address {
                case .loopback(let host, let port):
                    bound = .loopback(host: host, port: channel.localAddress?.port ?? port)
                case .unixSocket(let path):
                    chmod(path, 0o660)
                }
                say("tallystick: internal listener on \(bound)")
            },
            logger: logger)
    }

    /// The public listener's connection limit (spec §10.5): `max-connections`, lowered to
    /// what the process's file limit leaves after the descriptors kept for everything else
    /// (``ConnectionLimit``), so the server stops accepting before `accept` could fail with
    /// `EMFILE`. Logs the limit at start (a warning when a configured one was lowered).
    /// - Throws: `ValidationError` when the file limit leaves no room for connections.
    static func connectionLimit(_ settings: ServerSettings, logger: Logger) throws -> Int {
        let fileLimit = ConnectionLimit.fileLimit()
        let reserved =
            ConnectionLimit.reservedDescriptors
            + (settings.internalListen == nil ? 0 : ConnectionLimit.internalMaximum)
        let configured = settings.maxConnections ?? ServerSettings.defaultMaxConnections
        let maximum = ConnectionLimit.maximum(
            configured: configured, fileLimit: fileLimit, reserved: reserved)
        guard maximum >= 1 else {
            throw ValidationError(
                "the file limit (ulimit -n) of \(fileLimit) leaves no room for connections: "
                    + "\(reserved) descriptors are kept for the log and the listeners; raise it")
        }
        let metadata: Logger.Metadata = [
            "max_connections": "\(maximum)",
            "file_limit": "\(fileLimit == Int.max ? "unlimited" : String(fileLimit))",
            "header_timeout_s": "\(settings.headerTimeout)",
            "body_timeout_s": "\(settings.bodyTimeout)",
            "idle_timeout_s": "\(settings.idleTimeout)",
        ]
        if maximum < configured, settings.maxConnections != nil {
            logger.warning(
                "max-connections lowered to fit the file limit (ulimit -n) less \(reserved)",
                metadata: metadata)
        } else {
            logger.info("connection limits", metadata: metadata)
        }
        return maximum
    }

    /// Creates the `admin` instance when the log has none: with `password`, or a generated
    /// one printed once to standard output.
    static func bootstrapAdmin(_ engine: TokenEngine, password: String?) async throws {
        guard engine.instance(.admin) == nil else { return }
        let chosen: String
        if let password, !password.isEmpty {
            chosen = password
        } else {
            chosen = generatedPassword()
            say("tallystick: created the admin instance; its password (shown once): \(chosen)")
        }
        try await engine.createInstance(
            .init(id: .admin, name: "admin", auth: .password(chosen)))
    }

    /// Instances that already have `{"method":"external"}` keep it (they were set up that way
    /// on purpose, and refusing them would lock their users out); each start names them.
    static func warnAboutOpenInstances(_ engine: TokenEngine) {
        for id in engine.instanceIDs() {
            guard let state = engine.instance(id), state.isActive, case .external = state.auth
            else { continue }
            warn(
                "instance \(id) needs no credentials (external auth); "
                    + "set a password with: tallystick passwd \(id)")
        }
    }

    /// 26 characters of Crockford base32 from 16 random bytes (128 bits).
    static func generatedPassword() -> String {
        let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
        var generator = SystemRandomNumberGenerator()
        return String((0..<26).map { _ in alphabet[Int(generator.next(upperBound: UInt8(32)))] })
    }
}

/// Writes a line to standard output at once (unbuffered: a supervisor or test reads it live).
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// Writes one `tallystick: warning: ...` line to standard error (never a secret).
func warn(_ message: String) {
    FileHandle.standardError.write(Data("tallystick: warning: \(message)\n".utf8))
}
