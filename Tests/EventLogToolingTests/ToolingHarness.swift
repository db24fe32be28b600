import EventLog
import EventLogTestSupport
import Foundation
import TokenDomain
import TokenEngine

/// The fixture workload: a small, realistic history made by the real engine on a durable log
/// with a manual clock, and what the test needs to know about it.
struct Workload {
    var secrets: [TokenSerial: String] = [:]
    /// (sequence folded through, engine digest then) after every command.
    var checkpoints: [(UInt64, String)] = []

    static let start: Int64 = 1_790_000_000_000_000

    /// Runs it against `dataDir` (a new directory).
    static func run(in dataDir: String) async throws -> Workload {
        let clock = ManualLogClock(microseconds: start)
        var lc = LMDBEventLog.Configuration(directory: dataDir)
        lc.clock = clock
        let log = try LMDBEventLog.open(lc)
        var ec = EngineConfiguration()
        ec.passwordHashing = .testing
        ec.checkpointInterval = 0
        ec.allowExternalAuth = true
        let engine = try await TokenEngine(log: log, configuration: ec, clock: clock)
        var w = Workload()
        func mark() { w.checkpoints.append((engine.appliedThrough, engine.digest())) }
        let shop = InstanceID("shop")!
        try await engine.createInstance(
            .init(id: shop, name: "Shop", auth: .password("shop password"), email: "s@example.com"))
        mark()
        try await engine.createInstance(
            .init(id: .admin, name: "Admin", auth: .password("admin password")))
        mark()
        let owner = try await engine.authenticate(
            .basic(user: "shop", password: "shop password"), instance: shop, allowBasic: true)
        clock.advance(by: 60_000_000)
        let t1 = try await engine.issueToken(
            instance: shop, by: owner, scope: TokenScope(wire: "all:refreshable")!,
            description: "back office"
        ).value
        w.secrets[t1.serial] = t1.accessToken
        mark()
        let p1 = try await engine.authenticate(
            .secretToken(String(t1.accessToken.dropFirst(13))), instance: shop)
        clock.advance(by: 60_000_000)
        let t2 = try await engine.issueToken(
            instance: shop, by: p1, scope: TokenScope(wire: "order-pos:refreshable")!,
            duration: .micros(600_000_000)
        ).value
        w.secrets[t2.serial] = t2.accessToken
        mark()
        let p2 = try await engine.authenticate(
            .secretToken(String(t2.accessToken.dropFirst(13))), instance: shop)
        clock.advance(by: 60_000_000)
        let t3 = try await engine.issueToken(
            instance: shop, by: p2, scope: TokenScope(wire: "order-simple")!
        ).value
        w.secrets[t3.serial] = t3.accessToken
        mark()
        let legacy = try await engine.authenticate(.secretToken("shop password"), instance: shop)
        let t4 = try await engine.issueToken(
            instance: shop, by: legacy, scope: TokenScope(wire: "readonly")!, duration: .forever
        ).value
        w.secrets[t4.serial] = t4.accessToken
        mark()
        clock.advance(by: 700_000_000)  // t2 has expired by now
        try await engine.revokePresentedToken(instance: shop, by: p1)
        mark()
        try await engine.deleteToken(instance: shop, serial: t4.serial, by: owner)
        mark()
        try await engine.changeCredentials(
            instance: shop, to: .password("new shop password"), by: owner
        ).value
        mark()
        try await engine.createInstance(
            .init(id: InstanceID("gone")!, name: "Gone", auth: .external))
        mark()
        let open = try await engine.authenticate(.none, instance: InstanceID("gone")!)
        _ = try await engine.issueToken(
            instance: InstanceID("gone")!, by: open, scope: TokenScope(wire: "all")!
        ).value
        mark()
        try await engine.deleteInstance(instance: InstanceID("gone")!, purge: false, by: nil).value
        mark()
        await log.close()
        return w
    }
}

/// The repository's eventlog/fixtures folder.
let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("eventlog/fixtures")
