import EventLog
import EventLogPostgres

extension PostgresEventLog {
    /// ``open(url:clock:)`` with a connection deadline fit for the whole test suite on a
    /// 2-core machine: while other suites' live tests block Swift's cooperative threads for a
    /// while, the pool's connection can take longer than the 15 s an operator gets. A bound
    /// on a hang, not a timing assertion.
    static func openForTest(
        url: String, clock: any LogClock = SystemLogClock(), maximumAppendsPerCommit: Int = 4096
    ) async throws -> PostgresEventLog {
        var configuration = try Configuration(url: url)
        configuration.clock = clock
        configuration.maximumAppendsPerCommit = maximumAppendsPerCommit
        configuration.connectTimeout = .seconds(180)
        return try await open(configuration)
    }
}
