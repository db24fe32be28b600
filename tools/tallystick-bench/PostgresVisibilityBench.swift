import ArgumentParser
import EventLog
import EventLogPostgres
import EventLogTestSupport
import Foundation
import TokenDomain
import TokenEngine

struct PostgresVisibilityBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "postgres-visibility",
        abstract: "How soon a revocation through one server is refused by another (PostgreSQL).",
        discussion: """
            Starts a throwaway PostgreSQL cluster and two engines, each with its own store
            connection pool and LISTEN connection, as two servers. Each round mints a token on
            A, revokes it through B and measures from B's answer until A has folded the
            revocation (from then on A refuses the token, which is checked). The issue's
            target: p99 <= 50 ms on loopback.
            Example: swift run -c release tallystick-bench postgres-visibility --rounds 500
            """)

    @Option(help: "Revocations measured.")
    var rounds = 500

    func run() async throws {
        let cluster = try TemporaryPostgres()
        defer { cluster.stop() }
        let url = try cluster.createDatabase(prefix: "visibility")
        var configuration = EngineConfiguration()
        configuration.passwordHashing = .testing
        configuration.sharedLog = true
        let logA = try await PostgresEventLog.open(url: url)
        let logB = try await PostgresEventLog.open(url: url)
        let a = try await TokenEngine(
            log: logA, configuration: configuration, clock: SystemLogClock())
        let b = try await TokenEngine(
            log: logB, configuration: configuration, clock: SystemLogClock())
        let shop = InstanceID("shop")!
        try await a.createInstance(.init(id: shop, name: "Shop", auth: .password("bench pw")))
        let owner = try await a.authenticate(
            .basic(user: "shop", password: "bench pw"), instance: shop, allowBasic: true)
        let clock = ContinuousClock()
        var samples = [Double]()
        for _ in 0..<rounds {
            let token = try await a.issueToken(
                instance: shop, by: owner, scope: TokenScope(wire: "readonly")!
            ).value
            await b.waitUntilApplied(through: a.appliedThrough)
            let secret = String(token.accessToken.dropFirst("secret-token:".count))
            let onB = try await b.authenticate(.secretToken(secret), instance: shop)
            try await b.revokePresentedToken(instance: shop, by: onB)
            let answered = clock.now
            await a.waitUntilApplied(through: b.appliedThrough)
            let elapsed = clock.now - answered
            samples.append(
                Double(elapsed.components.seconds) * 1_000
                    + Double(elapsed.components.attoseconds) / 1e15)
            do {
                _ = try await a.authenticate(.secretToken(secret), instance: shop)
                throw ValidationError("A still accepted a token B revoked")
            } catch is EngineError {}
        }
        await logA.close()
        await logB.close()
        samples.sort()
        func at(_ q: Double) -> Double {
            samples[min(samples.count - 1, Int(q * Double(samples.count)))]
        }
        print("revocation through B refused by A, \(rounds) rounds (PostgreSQL on a UNIX socket):")
        print(
            String(
                format: "  p50 %.2f ms, p99 %.2f ms, max %.2f ms", at(0.5), at(0.99),
                samples.last ?? 0))
    }
}
