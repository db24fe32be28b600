import ArgumentParser
import EventLog
import Foundation
import TokenDomain
import TokenEngine

struct LoginBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "login",
        abstract: "A correct login's latency during a burst of wrong passwords from one address.",
        discussion: """
            Measures one password hash (scrypt at the server's cost), then, --rounds times,
            sends --burst wrong passwords at once from one requester (one client address) and,
            while they are queued, a correct login of another instance from another address;
            prints that login's latency in units of one hash (the fairness of the hashing
            queue, spec §10.4; target: within 2). The burst goes to the engine directly, past
            the HTTP login throttle, so every attempt of it reaches the queue: the queue alone
            is measured. For comparison, the same with every request from one requester and
            limits above the burst: what one shared first-in-first-out queue would do.
            Example: swift run -c release tallystick-bench login --burst 100 --rounds 10
            """)

    @Option(help: "Wrong passwords sent at once from one address.")
    var burst = 100
    @Option(help: "Bursts, each with one correct login measured.")
    var rounds = 10

    func run() async throws {
        let base =
            FileManager.default.temporaryDirectory.path + "/tallystick-login-bench-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: base) }
        var rows = [(String, String, String)]()

        let fair = try await scenario(
            path: base + "/fair", configuration: EngineConfiguration(), rounds: rounds)
        let hash = fair.hash
        rows.append(
            ("one password hash (scrypt N=2^15, median of 7)", String(format: "%.1f ms", hash), ""))
        rows.append(
            (
                "correct login during a \(burst)-wrong-password burst, median",
                String(format: "%.1f ms = %.2f hashes", fair.median, fair.median / hash),
                "<= 2 hashes"
            ))
        rows.append(
            (
                "  worst of \(rounds) rounds", String(format: "%.2f hashes", fair.worst / hash),
                ""
            ))
        rows.append(
            (
                "  burst attempts hashed / refused (429)",
                "\(fair.hashed) / \(fair.refused) per burst", "its share of the queue"
            ))

        var shared = EngineConfiguration()
        shared.kdfQueueLimit = burst + 10
        shared.kdfQueueLimitPerRequester = burst + 10
        let fifo = try await scenario(
            path: base + "/fifo", configuration: shared, rounds: min(rounds, 3),
            oneRequester: true)
        rows.append(
            (
                "for comparison, one shared FIFO: median of \(min(rounds, 3))",
                String(format: "%.1f ms = %.2f hashes", fifo.median, fifo.median / fifo.hash),
                "what the probe saw (8.3 s)"
            ))
        printTable(rows)
    }

    /// One engine on a fresh log: the hash time, then `rounds` bursts each with a login timed.
    func scenario(
        path: String, configuration: EngineConfiguration, rounds: Int, oneRequester: Bool = false
    )
        async throws -> (
            hash: Double, median: Double, worst: Double, hashed: Int, refused: Int
        )
    {
        let log = try LMDBEventLog.open(LMDBEventLog.Configuration(directory: path))
        let engine = try await TokenEngine(
            log: log, configuration: configuration, clock: SystemLogClock())
        let victim = InstanceID("victim")!
        try await engine.createInstance(
            .init(id: victim, name: "Victim", auth: .password("victim password")))
        for round in 0..<rounds {
            try await engine.createInstance(
                .init(
                    id: InstanceID("shop-\(round)")!, name: "Shop",
                    auth: .password("shop password \(round)")))
        }
        var singles = [Double]()
        for n in 0..<7 {
            let started = ContinuousClock.now
            _ = try? await engine.authenticate(
                .basic(user: "victim", password: "wrong \(n)"), instance: victim, allowBasic: true,
                requester: RequesterKey(high: 1, low: UInt64(n)))
            singles.append(milliseconds(since: started))
        }
        var latencies = [Double]()
        var hashed = 0
        var refused = 0
        for round in 0..<rounds {
            let attacker = RequesterKey(high: 2, low: UInt64(round))
            let owner = oneRequester ? attacker : RequesterKey(high: 3, low: UInt64(round))
            let count = burst
            let attack = Task {
                await withTaskGroup(of: Bool.self) { group in
                    for n in 0..<count {
                        group.addTask {
                            do throws(EngineError) {
                                _ = try await engine.authenticate(
                                    .basic(user: "victim", password: "guess \(round) \(n)"),
                                    instance: victim, allowBasic: true, requester: attacker)
                                return true
                            } catch {
                                return error.retryAfter == nil
                            }
                        }
                    }
                    return await group.reduce(into: (0, 0)) {
                        $0.0 += $1 ? 1 : 0; $0.1 += $1 ? 0 : 1
                    }
                }
            }
            // A benchmark may wait: let the burst reach the queue before the login is sent.
            try await Task.sleep(for: .milliseconds(10))
            let started = ContinuousClock.now
            _ = try await engine.authenticate(
                .basic(user: "shop-\(round)", password: "shop password \(round)"),
                instance: InstanceID("shop-\(round)")!, allowBasic: true, requester: owner)
            latencies.append(milliseconds(since: started))
            let (checked, busy) = await attack.value
            hashed = checked
            refused = busy
        }
        await log.close()
        singles.sort()
        latencies.sort()
        return (singles[3], latencies[latencies.count / 2], latencies.last!, hashed, refused)
    }
}
