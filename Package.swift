// swift-tools-version: 6.2
//
// Tallystick: an event-sourced login-token service for GNU Taler merchant backends.
// Dependencies point one way: TokenDomain <- TokenEngine -> EventLog -> LMDB -> CLMDB;
// MerchantAPI -> TokenEngine.
import PackageDescription

let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "tallystick",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "tallystick", targets: ["Tallystick"]),
        .executable(name: "tallystick-bench", targets: ["TallystickBench"]),
        .executable(name: "eventlog-crash-child", targets: ["EventLogCrashChild"]),
        .executable(name: "tallystick-log", targets: ["TallystickLog"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(
            url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
    ],
    targets: [
        // The C library from Debian's liblmdb-dev, found through pkg-config.
        .systemLibrary(
            name: "CLMDB",
            pkgConfig: "lmdb",
            providers: [.apt(["liblmdb-dev"])]
        ),
        // A safe wrapper: environment, closure-scoped transactions, cursors, errors.
        .target(name: "LMDB", dependencies: ["CLMDB"], swiftSettings: strict),
        // Bytes as text: hex, the JSON writer and reader, Taler timestamps. No dependencies.
        .target(name: "TextCoding", swiftSettings: strict),
        // The append-only, hash-chained, group-committed log. Payloads are bytes + a type tag.
        .target(
            name: "EventLog",
            dependencies: [
                "LMDB", "TextCoding", .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        // The same log kept in PostgreSQL, for deployments of several servers on one database.
        .target(
            name: "EventLogPostgres",
            dependencies: [
                "EventLog",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // Pure token logic: commands, events, decide, evolve, scopes, codec. No I/O, no clock.
        .target(name: "TokenDomain", dependencies: ["TextCoding"], swiftSettings: strict),
        // Runs commands: instance actors, decide -> append -> fold, projections, password KDF.
        .target(
            name: "TokenEngine",
            dependencies: [
                "TokenDomain", "EventLog", "TextCoding",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        // The offline tools (verify, dump, load, state-at, explain, report, stats, backup) as functions.
        .target(
            name: "EventLogTooling",
            dependencies: [
                "EventLog", "TokenDomain", "TokenEngine", "TextCoding",
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "TallystickLog",
            dependencies: [
                "EventLogTooling", "EventLog", "EventLogPostgres", "TokenDomain", "TokenEngine",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "tools/tallystick-log",
            swiftSettings: strict
        ),
        // The Taler merchant auth API over HTTP: routes, wire types, credentials, error mapping;
        // and, in Upstream/, the client of the merchant backend behind it (spec §9).
        .target(
            name: "MerchantAPI",
            dependencies: [
                "TokenEngine", "TokenDomain", "EventLog", "TextCoding",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            swiftSettings: strict
        ),
        // An in-memory log with the same contract, for tests of the layers above.
        .target(name: "EventLogTestSupport", dependencies: ["EventLog"], swiftSettings: strict),
        .executableTarget(
            name: "Tallystick",
            dependencies: [
                "EventLog", "EventLogPostgres", "TokenEngine", "TokenDomain", "MerchantAPI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "TallystickBench",
            dependencies: [
                "EventLog", "EventLogPostgres", "EventLogTestSupport", "EventLogTooling", "LMDB",
                "TokenDomain", "TokenEngine", "TextCoding",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "tools/tallystick-bench",
            swiftSettings: strict
        ),
        // Appends in a loop and reports each returned append; the crash test kills it.
        .executableTarget(
            name: "EventLogCrashChild",
            dependencies: ["EventLog"],
            path: "tools/eventlog-crash-child",
            swiftSettings: strict
        ),
        .testTarget(name: "LMDBTests", dependencies: ["LMDB"], swiftSettings: strict),
        .testTarget(name: "TextCodingTests", dependencies: ["TextCoding"], swiftSettings: strict),
        .testTarget(name: "TokenDomainTests", dependencies: ["TokenDomain"], swiftSettings: strict),
        .testTarget(
            name: "EventLogToolingTests",
            dependencies: [
                "EventLogTooling", "EventLog", "EventLogTestSupport", "TokenDomain", "TokenEngine",
                "LMDB",
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "TokenEngineTests",
            dependencies: [
                "TokenEngine", "TokenDomain", "EventLog", "EventLogTestSupport", "LMDB",
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "MerchantAPITests",
            dependencies: [
                "MerchantAPI", "TokenEngine", "TokenDomain", "EventLog",
                "EventLogTestSupport", "TextCoding",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "TallystickTests", dependencies: ["Tallystick"], swiftSettings: strict),
        .testTarget(
            name: "EventLogTests",
            dependencies: [
                "EventLog", "EventLogPostgres", "EventLogTestSupport", "LMDB", "TextCoding",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
    ]
)
