import EventLog
import EventLogTestSupport
import Foundation
import Synchronization
import TokenDomain
import TokenEngine

/// A TAN sender that keeps the codes instead of sending them: the workload solves its
/// challenges with them.
final class CodeKeeper: TANSender {
    let channels: Set<TANChannel> = [.email]
    private let codes = Mutex<[String]>([])

    func send(_ message: String, over channel: TANChannel, to address: String) async throws {
        codes.withLock { $0.append(String(message.prefix { $0 != " " })) }
    }

    var last: String { codes.withLock { $0.last ?? "" } }
}

/// The audit report's fixture (`eventlog/fixtures/audit.jsonl`): three days of two instances,
/// made by the real engine with two-factor authentication and signed tree heads, on a manual
/// clock. `kiosk` (an e-mail address, so its password mints and credential changes are
/// challenged) mints a token through a challenge (a wrong code first), refreshes it twice,
/// changes its password through another, loses one token to a deletion, is blocked after
/// three wrong codes and mints again once the block is over (the failed challenge expired by
/// then). `cafe` (no address) mints and refreshes without challenges, revokes one token and
/// keeps one forever. Descriptions and the name hold HTML, which the report must escape.
enum AuditWorkload {
    struct NotChallenged: Error {}

    static let start: Int64 = 1_790_000_000_000_000
    static let kiosk = InstanceID("kiosk")!
    static let cafe = InstanceID("cafe")!
    static let scriptDescription = #"<script>alert("till 3")</script> & co"#

    static func run(in dataDir: String) async throws {
        let clock = ManualLogClock(microseconds: start)
        var lc = LMDBEventLog.Configuration(directory: dataDir)
        lc.clock = clock
        let log = try LMDBEventLog.open(lc)
        let keeper = CodeKeeper()
        var ec = EngineConfiguration()
        ec.passwordHashing = .testing
        ec.checkpointInterval = 0
        ec.twoFactor.sender = keeper
        ec.twoFactor.policy.loginBlockThreshold = 3
        ec.treeHeadSigner = try TreeHeadSigner(rawKey: Array(repeating: 7, count: 32))
        let engine = try await TokenEngine(log: log, configuration: ec, clock: clock)
        func minutes(_ n: Int64) { clock.advance(by: n * 60_000_000) }
        func seal() async throws { try await engine.sealTreeHead(now: clock.nowMicroseconds()) }
        func challenge<T: Sendable>(_ guarded: Guarded<T>) throws -> ChallengeID {
            guard case .challenged(let response) = guarded else {
                throw NotChallenged()
            }
            return response.challenges[0].id
        }
        func solve(_ id: ChallengeID, wrongFirst: Int = 0) async throws {
            minutes(1)
            _ = try await engine.transmitCode(instance: kiosk, challenge: id)
            for _ in 0..<wrongFirst {
                minutes(1)
                do {
                    try await engine.confirmCode(instance: kiosk, challenge: id, code: "00000000")
                } catch {}
            }
            minutes(1)
            try await engine.confirmCode(instance: kiosk, challenge: id, code: keeper.last)
        }

        // Day 1: kiosk mints through a challenge, refreshes twice, changes its password.
        try await engine.createInstance(
            .init(
                id: kiosk, name: "Kiosk <Main & Co>", auth: .password("kiosk password"),
                email: "owner@example.com", addressesVouched: false))
        let owner = try await engine.authenticate(
            .basic(user: "kiosk", password: "kiosk password"), instance: kiosk, allowBasic: true)
        minutes(10)
        let backOffice = TokenScope(wire: "all:refreshable")!
        let first = try challenge(
            try await engine.issueToken(
                instance: kiosk, by: owner, scope: backOffice, description: "back office"))
        try await solve(first, wrongFirst: 1)
        minutes(1)
        let t1 = try await engine.issueToken(
            instance: kiosk, by: owner, scope: backOffice, description: "back office",
            twoFactor: TwoFactorRequest(body: [], challengeIDs: [first])
        ).value
        let p1 = try await engine.authenticate(
            .secretToken(String(t1.accessToken.dropFirst(13))), instance: kiosk)
        minutes(20)
        let t2 = try await engine.issueToken(
            instance: kiosk, by: p1, scope: TokenScope(wire: "order-pos:refreshable")!,
            duration: .micros(6 * 3_600_000_000), description: scriptDescription
        ).value
        let p2 = try await engine.authenticate(
            .secretToken(String(t2.accessToken.dropFirst(13))), instance: kiosk)
        minutes(60)
        _ = try await engine.issueToken(
            instance: kiosk, by: p2, scope: TokenScope(wire: "order-simple")!,
            duration: .micros(2 * 3_600_000_000), description: "till 3"
        ).value
        minutes(30)
        let change = try challenge(
            try await engine.changeCredentials(
                instance: kiosk, to: .password("new kiosk password"), by: owner))
        try await solve(change)
        minutes(1)
        _ = try await engine.changeCredentials(
            instance: kiosk, to: .password("new kiosk password"), by: owner,
            twoFactor: TwoFactorRequest(body: [], challengeIDs: [change])
        ).value
        minutes(15)
        try await engine.deleteToken(instance: kiosk, serial: t2.serial, by: p1)
        try await seal()

        // Day 2: three wrong codes block password logins; after the block a mint succeeds.
        minutes(20 * 60)
        let guessed = try await engine.authenticate(
            .basic(user: "kiosk", password: "new kiosk password"), instance: kiosk,
            allowBasic: true)
        let attack = try challenge(
            try await engine.issueToken(
                instance: kiosk, by: guessed, scope: TokenScope(wire: "readonly")!))
        minutes(1)
        _ = try await engine.transmitCode(instance: kiosk, challenge: attack)
        for _ in 0..<3 {
            minutes(1)
            do {
                try await engine.confirmCode(instance: kiosk, challenge: attack, code: "12345678")
            } catch {}
        }
        minutes(70)
        let again = try challenge(
            try await engine.issueToken(
                instance: kiosk, by: guessed, scope: TokenScope(wire: "readonly")!,
                description: "auditor"))
        try await solve(again)
        _ = try await engine.issueToken(
            instance: kiosk, by: guessed, scope: TokenScope(wire: "readonly")!,
            description: "auditor", twoFactor: TwoFactorRequest(body: [], challengeIDs: [again])
        ).value
        try await seal()

        // Day 3: cafe, no address, no challenges: a refresh chain, a revocation, a forever token.
        minutes(22 * 60)
        try await engine.createInstance(.init(id: cafe, name: "Café", auth: .password("cafe")))
        let cafeOwner = try await engine.authenticate(
            .basic(user: "cafe", password: "cafe"), instance: cafe, allowBasic: true)
        minutes(5)
        let c1 = try await engine.issueToken(
            instance: cafe, by: cafeOwner, scope: TokenScope(wire: "order-full:refreshable")!,
            duration: .micros(3_600_000_000), description: "tablet"
        ).value
        let cp1 = try await engine.authenticate(
            .secretToken(String(c1.accessToken.dropFirst(13))), instance: cafe)
        minutes(50)
        let c2 = try await engine.issueToken(
            instance: cafe, by: cp1, scope: TokenScope(wire: "order-mgmt:refreshable")!,
            duration: .micros(3_600_000_000), description: "tablet"
        ).value
        let cp2 = try await engine.authenticate(
            .secretToken(String(c2.accessToken.dropFirst(13))), instance: cafe)
        minutes(50)
        _ = try await engine.issueToken(
            instance: cafe, by: cp2, scope: TokenScope(wire: "order-simple")!,
            duration: .micros(3_600_000_000), description: "tablet"
        ).value
        minutes(5)
        try await engine.revokePresentedToken(instance: cafe, by: cp2)
        _ = try await engine.issueToken(
            instance: cafe, by: cafeOwner, scope: TokenScope(wire: "readonly")!,
            duration: .forever, description: "wall display"
        ).value
        minutes(30)
        try await seal()
        await log.close()
    }
}
