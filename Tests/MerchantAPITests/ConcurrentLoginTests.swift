import EventLogTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import TokenDomain

@testable import MerchantAPI
@testable import TokenEngine

/// The login throttle under concurrency (spec §10.4), found by the adversarial probe: a
/// failure was counted only after the ~55 ms password hash, so parallel guesses all reached
/// the KDF, and one success cleared an address's count for every instance.
///
/// No test here sleeps or reads a clock: the manual clock stands still, so every budget is
/// exact whatever order the requests run in, and the KDF's runs are counted.
@Suite("Concurrent logins and the throttle")
struct ConcurrentLoginTests {
    /// Sends `count` requests at once; `forwardedFor(n)` names the n-th one's client (with
    /// `unix` trusted), `nil` for the harness's own peer.
    static func burst(
        _ client: some TestClientProtocol, count: Int, auth: @escaping @Sendable (Int) -> String,
        instance: String = "shop", forwardedFor: @escaping @Sendable (Int) -> String? = { _ in nil }
    ) async throws -> [TestResponse] {
        try await withThrowingTaskGroup(of: TestResponse.self) { group in
            for n in 0..<count {
                group.addTask {
                    var headers: HTTPFields = [:]
                    if let address = forwardedFor(n) {
                        headers[TrustedProxies.xForwardedFor] = address
                    }
                    return try await client.call(
                        .post, "/instances/\(instance)/private/token", auth: auth(n),
                        json: #"{"scope":"readonly"}"#, headers: headers)
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
    }

    @Test func parallelWrongPasswordsFromOneAddressAreCheckedOnlyUpToTheBudget() async throws {
        let h = try await APIHarness()
        let budget = LoginThrottle.Policy().freeFailuresPerClient + 1
        try await h.test { client in
            let before = h.engine.hasher.runs.current
            let answers = try await Self.burst(client, count: 100) { n in
                basic("shop", "guess \(n)")
            }
            let checked = h.engine.hasher.runs.current - before
            #expect(checked <= budget)
            #expect(answers.count(where: { $0.status == .unauthorized }) <= budget)
            let throttled = answers.filter { $0.status == .tooManyRequests }
            #expect(throttled.count >= 100 - budget)
            #expect(throttled.allSatisfy { $0.code == 2015 && $0.headers[.retryAfter] != nil })
            // Throttled answers never depend on the password: the right one is refused too.
            let right = try await client.call(
                .post, "/instances/shop/private/token",
                auth: basic("shop", APIHarness.shopPassword), json: #"{"scope":"readonly"}"#)
            #expect(right.status == .tooManyRequests)
        }
    }

    @Test func theInstanceCapCountsInFlightAttemptsFromEveryAddress() async throws {
        let h = try await APIHarness(trustedProxies: try TrustedProxies(parsing: "unix"))
        let cap = LoginThrottle.Policy().freeFailuresPerInstance + 1
        try await h.test { client in
            let owner: HTTPFields = [TrustedProxies.xForwardedFor: "192.0.2.1"]
            let login = try await client.call(
                .post, "/instances/shop/private/token",
                auth: basic("shop", APIHarness.shopPassword), json: #"{"scope":"readonly"}"#,
                headers: owner)
            #expect(login.status == .ok)
            h.remember(login.json["access_token"]?.stringValue ?? "")
            let before = h.engine.hasher.runs.current
            let answers = try await Self.burst(
                client, count: 100, auth: { n in basic("shop", "guess \(n)") },
                forwardedFor: { n in "198.51.100.\(n + 1)" })
            #expect(h.engine.hasher.runs.current - before <= cap)
            #expect(answers.count(where: { $0.status == .unauthorized }) <= cap)
            let throttled = answers.filter { $0.status == .tooManyRequests }
            #expect(throttled.count >= 100 - cap)
            #expect(
                throttled.allSatisfy { Int($0.headers[.retryAfter] ?? "") ?? 99 <= 5 },
                "the instance's wait is capped at a few seconds")
            // A new address waits; the owner's device, which logged in before, does not.
            let newcomer = try await client.call(
                .post, "/instances/shop/private/token",
                auth: basic("shop", APIHarness.shopPassword), json: #"{"scope":"readonly"}"#,
                headers: [TrustedProxies.xForwardedFor: "192.0.2.99"])
            #expect(newcomer.status == .tooManyRequests)
            let again = try await client.call(
                .post, "/instances/shop/private/token",
                auth: basic("shop", APIHarness.shopPassword), json: #"{"scope":"readonly"}"#,
                headers: owner)
            #expect(again.status == .ok)
            h.remember(again.json["access_token"]?.stringValue ?? "")
        }
    }

    /// Finding 2: a tenant interleaving logins to its own instance with guesses against
    /// another got 25 guesses checked, because each success cleared its address's count.
    @Test func aSuccessClearsOnlyItsOwnAddressAndInstance() async throws {
        let h = try await APIHarness(trustedProxies: try TrustedProxies(parsing: "unix"))
        let tenantPassword = "tenant pass phrase"
        h.remember(tenantPassword)
        try await h.engine.createInstance(
            .init(id: InstanceID("tenant")!, name: "Tenant", auth: .password(tenantPassword)))
        let budget = LoginThrottle.Policy().freeFailuresPerClient + 1
        try await h.test { client in
            let from: HTTPFields = [TrustedProxies.xForwardedFor: "203.0.113.7"]
            var guesses = [HTTPResponse.Status]()
            for n in 0..<25 {
                let guess = try await client.call(
                    .post, "/instances/shop/private/token", auth: basic("shop", "guess \(n)"),
                    json: #"{"scope":"readonly"}"#, headers: from)
                guesses.append(guess.status)
                let own = try await client.call(
                    .post, "/instances/tenant/private/token",
                    auth: basic("tenant", tenantPassword), json: #"{"scope":"readonly"}"#,
                    headers: from)
                #expect(own.status == .ok)
                h.remember(own.json["access_token"]?.stringValue ?? "")
            }
            #expect(guesses.count(where: { $0 == .unauthorized }) == budget)
            #expect(guesses.dropFirst(budget).allSatisfy { $0 == .tooManyRequests })
        }
    }

    /// Finding 1, second half: the one hash thread had an unbounded first-in-first-out queue,
    /// so during a burst of wrong passwords another instance's correct login waited 8.3 s.
    /// Now the burst waits in its own address's share and the login is served next: checked
    /// here by the order the KDF runs in, not by time.
    @Test func aBurstFromOneAddressDoesNotDelayAnotherAddressesLogin() async throws {
        let latch = Latch()
        let order = Recorded()
        let h = try await APIHarness(
            configure: { configuration in
                configuration.keyDerivation = { password, salt, log2N, r, p, count in
                    let text = String(decoding: password, as: UTF8.self)
                    order.append(text)
                    if text.hasPrefix("guess") { latch.pass() }
                    return try PasswordHasher.derive(
                        password, salt: salt, log2N: log2N, r: r, p: p, count: count)
                }
            }, trustedProxies: try TrustedProxies(parsing: "unix"))
        let queue = h.engine.hasher.queue
        let share = h.engine.configuration.kdfQueueLimitPerRequester
        let budget = LoginThrottle.Policy().freeFailuresPerClient + 1
        try await h.test { client in
            let before = h.engine.hasher.runs.current
            let burst = Task {
                try await Self.burst(
                    client, count: 10, auth: { n in basic("shop", "guess \(n)") },
                    forwardedFor: { _ in "203.0.113.9" })
            }
            let queued = await eventually {
                h.engine.hasher.runs.current == before + 1 && queue.waitingCount == share - 1
            }
            #expect(queued, "one guess hashing, the rest of the address's share waiting")
            let owner = Task {
                try await client.call(
                    .post, "/private/token", auth: basic("admin", APIHarness.adminPassword),
                    json: #"{"scope":"readonly"}"#,
                    headers: [TrustedProxies.xForwardedFor: "198.51.100.1"])
            }
            #expect(await eventually { queue.waitingCount == share }, "the owner's login waits")
            latch.open()
            let minted = try await owner.value
            #expect(minted.status == .ok)
            h.remember(minted.json["access_token"]?.stringValue ?? "")
            let answers = try await burst.value
            let ran = order.all.suffix(share + 1)
            #expect(ran.first?.hasPrefix("guess") == true)
            #expect(ran.dropFirst().first == APIHarness.adminPassword)
            #expect(ran.dropFirst(2).allSatisfy { $0.hasPrefix("guess") })
            // The throttle admitted its budget, the share took what fit, the rest was 429.
            #expect(answers.count(where: { $0.status == .unauthorized }) == share)
            let refused = answers.filter { $0.status == .tooManyRequests }
            #expect(refused.count == 10 - share)
            #expect(refused.allSatisfy { $0.code == 2015 && $0.headers[.retryAfter] != nil })
            let busy = refused.filter {
                $0.json["hint"]?.stringValue?.contains("password checks are waiting") == true
            }
            #expect(busy.count == budget - share)
        }
    }
}
