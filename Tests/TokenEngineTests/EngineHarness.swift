import EventLog
import EventLogTestSupport
import Foundation
import TokenDomain

@testable import TokenEngine

/// An engine over a fresh log (in memory or LMDB) with a manual clock and a cheap KDF.
final class EngineHarness: @unchecked Sendable {
    enum Store: String, CaseIterable, Sendable { case memory, lmdb }

    let store: Store
    let clock = ManualLogClock()
    let directory: TemporaryDirectory
    private let memory = InMemoryEventLog.Storage()
    private(set) var log: any EventStore
    private(set) var engine: TokenEngine
    var configuration: EngineConfiguration

    init(_ store: Store, configure: (inout EngineConfiguration) -> Void = { _ in }) async throws {
        self.store = store
        directory = try TemporaryDirectory(prefix: "engine")
        var c = EngineConfiguration()
        c.passwordHashing = .testing
        configure(&c)
        configuration = c
        log = try Self.openLog(store, memory: memory, directory: directory, clock: clock)
        engine = try await TokenEngine(log: log, configuration: c, clock: clock)
    }

    private static func openLog(
        _ store: Store, memory: InMemoryEventLog.Storage, directory: TemporaryDirectory,
        clock: ManualLogClock
    ) throws -> any EventStore {
        switch store {
        case .memory: return InMemoryEventLog(storage: memory, clock: clock)
        case .lmdb:
            var c = LMDBEventLog.Configuration(directory: directory.appending("log"))
            c.clock = clock
            return try LMDBEventLog.open(c)
        }
    }

    /// Closes the log and starts a new engine over it, as a restarted server would (with its
    /// configuration changed by `configure`).
    func restart(configure: (inout EngineConfiguration) -> Void = { _ in }) async throws {
        await log.close()
        log = try Self.openLog(store, memory: memory, directory: directory, clock: clock)
        configure(&configuration)
        engine = try await TokenEngine(log: log, configuration: configuration, clock: clock)
    }

    func finish() async {
        await log.close()
        directory.remove()
    }

    /// Creates `id` with `password` and returns a principal holding its password.
    @discardableResult
    func makeInstance(_ id: String = "shop", password: String = "correct horse") async throws
        -> Principal
    {
        let instance = InstanceID(id)!
        try await engine.createInstance(
            .init(id: instance, name: "Shop \(id)", auth: .password(password)))
        return try await engine.authenticate(
            .basic(user: id, password: password), instance: instance, allowBasic: true)
    }
}

extension EngineHarness {
    /// Authenticates as a minted token, the way a client presents it.
    func principal(of token: IssuedToken, instance: InstanceID = .shop) async throws -> Principal {
        try await engine.authenticate(
            .secretToken(String(token.accessToken.dropFirst(13))), instance: instance)
    }

    /// An instance `shop` with an `all:refreshable` token minted by its owner, and that token.
    func refreshableParent() async throws -> (token: IssuedToken, principal: Principal) {
        let owner = try await makeInstance()
        let parent = try await engine.issueToken(
            instance: .shop, by: owner, scope: scope("all:refreshable")
        ).value
        return (parent, try await principal(of: parent))
    }
}

extension InstanceID {
    static let shop = InstanceID("shop")!
}

func scope(_ wire: String) -> TokenScope { TokenScope(wire: wire)! }
