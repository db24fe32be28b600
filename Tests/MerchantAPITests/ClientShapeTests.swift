import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import TextCoding
import TokenDomain

@testable import MerchantAPI

/// The requests of spec §8, as the real clients send them, and the fields each one reads.
@Suite("Real client request shapes")
struct ClientShapeTests {
    @Test func phpSDKWithNullFieldsThenBearerThenManagedModeWithoutScheme() async throws {
        let h = try await APIHarness()
        try await h.test { client in
            let minted = try await client.call(
                .post, "/instances/shop/private/token",
                auth: basic("shop", APIHarness.shopPassword),
                json:
                    #"{"scope":"write","duration":{"d_us":3600000000},"description":"php","refreshable":null}"#
            )
            #expect(minted.status == .ok)
            let token = try #require(minted.json["access_token"]?.stringValue)
            h.remember(token)
            #expect(minted.json["scope"]?.stringValue == "write")
            #expect(minted.json["expiration"]?["t_s"]?.integer == Int64(1_700_003_600))
            let nulls = try await client.call(
                .post, "/instances/shop/private/token",
                auth: basic("shop", APIHarness.shopPassword),
                json: #"{"scope":"readonly","duration":null,"description":null,"refreshable":null}"#
            )
            #expect(nulls.status == .ok)
            h.remember(nulls.json["access_token"]?.stringValue ?? "")
            #expect(nulls.json["expiration"]?["t_s"]?.integer == Int64(1_700_086_400))
            let list = try await client.call(
                .get, "/instances/shop/private/tokens?limit=-20", auth: "Bearer \(token)")
            #expect(list.status == .ok)
            #expect(list.json["tokens"]?.arrayValue?.count == 2)
            let managed = try await client.call(.get, "/instances/shop/private/tokens", auth: token)
            #expect(managed.status == .ok)
            let bySerial = try await client.call(
                .delete, "/instances/shop/private/tokens/2", auth: token)
            #expect(bySerial.status == .noContent)
            let selfDelete = try await client.call(
                .delete, "/instances/shop/private/token", auth: token)
            #expect(selfDelete.status == .noContent)
        }
    }

    @Test func trytonPasswordBearerWithOrderMgmtRefreshable() async throws {
        let h = try await APIHarness()
        try await h.test { client in
            let minted = try await client.call(
                .post, "/instances/shop/private/token",
                auth: "Bearer secret-token:\(APIHarness.shopPassword)",
                json: #"{"description":"Tryton","scope":"order-mgmt:refreshable"}"#)
            #expect(minted.status == .ok)
            h.remember(minted.json["access_token"]?.stringValue ?? "")
            #expect(minted.json["access_token"]?.stringValue?.hasPrefix("secret-token:") == true)
            #expect(minted.json["expiration"]?["t_s"]?.integer == Int64(1_700_086_400))
            #expect(minted.json["refreshable"]?.boolValue == true)
            #expect(minted.json["scope"]?.stringValue == "order-mgmt:refreshable")
            let details = try await client.call(
                .get, "/instances/shop/private",
                auth: "Bearer secret-token:\(APIHarness.shopPassword)")
            #expect(details.status == .ok)
            #expect(details.json["name"]?.stringValue == "Shop")
        }
    }

    @Test func btcpayCreatesThenMintsForeverAndTreats409AsExisting() async throws {
        let h = try await APIHarness()
        h.remember("btcpay generated pw")
        try await h.test { client in
            let create =
                #"{"id":"btc","name":"BTCPay store","auth":{"method":"token","password":"btcpay generated pw"}}"#
            let created = try await client.call(
                .post, "/management/instances", auth: bearer(APIHarness.adminPassword), json: create
            )
            #expect(created.status == .noContent)
            let minted = try await client.call(
                .post, "/instances/btc/private/token", auth: basic("btc", "btcpay generated pw"),
                json: #"{"scope":"all","refreshable":false,"duration":{"d_us":"forever"}}"#)
            #expect(minted.status == .ok)
            h.remember(minted.json["access_token"]?.stringValue ?? "")
            #expect(minted.json["expiration"]?["t_s"]?.stringValue == "never")
            #expect(minted.json["refreshable"]?.boolValue == false)
            h.remember("another generated pw")
            let again = try await client.call(
                .post, "/management/instances", auth: bearer(APIHarness.adminPassword),
                json:
                    #"{"id":"btc","name":"BTCPay store","auth":{"method":"token","password":"another generated pw"}}"#
            )
            #expect(again.status == .conflict)
            #expect(again.code == 2600)
        }
    }

    @Test func rubyReadsTheDeprecatedTokenField() async throws {
        let h = try await APIHarness()
        try await h.test { client in
            let minted = try await client.call(
                .post, "/private/token", auth: "Bearer secret-token:\(APIHarness.adminPassword)",
                json: #"{"scope":"write"}"#)
            #expect(minted.status == .ok)
            let token = try #require(minted.json["token"]?.stringValue)
            h.remember(token)
            #expect(token == minted.json["access_token"]?.stringValue)
            let used = try await client.call(.get, "/private/tokens", auth: bearer(token))
            #expect(used.status == .ok)
        }
    }
}

@Suite("Login throttling")
struct ThrottleTests {
    @Test func failuresFromOneAddressBlockItWithRetryAfterUntilTheWaitPasses() async throws {
        var policy = LoginThrottle.Policy()
        policy.freeFailuresPerClient = 2
        let h = try await APIHarness(throttle: policy)
        try await h.test { client in
            for _ in 0..<3 {
                let wrong = try await client.call(
                    .post, "/instances/shop/private/token", auth: basic("shop", "guess"),
                    json: #"{"scope":"all"}"#)
                #expect(wrong.status == .unauthorized)
            }
            let blocked = try await client.call(
                .post, "/instances/shop/private/token",
                auth: basic("shop", APIHarness.shopPassword),
                json: #"{"scope":"all"}"#)
            #expect(blocked.status == .tooManyRequests)
            #expect(blocked.headers[.retryAfter] == "1")
            #expect(blocked.code == 2015)
            h.clock.advance(by: 1_000_000)
            let through = try await client.call(
                .post, "/instances/shop/private/token",
                auth: basic("shop", APIHarness.shopPassword),
                json: #"{"scope":"all"}"#)
            #expect(through.status == .ok)
            h.remember(through.json["access_token"]?.stringValue ?? "")
        }
    }

    @Test func theClientWaitDoublesAndIsCapped() {
        var policy = LoginThrottle.Policy()
        policy.freeFailuresPerClient = 1
        policy.maximumClientDelay = 4_000_000
        policy.freeFailuresPerInstance = 1_000
        let throttle = LoginThrottle(policy: policy)
        var waits = [Int?]()
        for _ in 0..<6 {
            throttle.recordFailure(instance: "shop", client: ip("10.0.0.1"), now: 0)
            waits.append(throttle.wait(instance: "shop", client: ip("10.0.0.1"), now: 0))
        }
        #expect(waits == [nil, 1, 2, 4, 4, 4])
        #expect(throttle.wait(instance: "shop", client: ip("10.0.0.2"), now: 0) == nil)
        #expect(throttle.wait(instance: "other", client: ip("10.0.0.1"), now: 0) == nil)
    }

    @Test func anAttemptCountsAsAFailureFromItsAdmissionUntilItEnds() {
        var policy = LoginThrottle.Policy()
        policy.freeFailuresPerClient = 2
        policy.freeFailuresPerInstance = 1_000
        let throttle = LoginThrottle(policy: policy)
        let client = ip("10.0.0.1")
        var admitted = [LoginThrottle.Attempt]()
        for _ in 0..<3 {
            guard
                case .admitted(let attempt) = throttle.admit(
                    instance: "shop", client: client, now: 0)
            else {
                Issue.record("held back within the budget")
                return
            }
            admitted.append(attempt)
        }
        // Three in flight and none finished: the fourth waits.
        guard case .wait(seconds: 1) = throttle.admit(instance: "shop", client: client, now: 0)
        else {
            Issue.record("a fourth attempt in flight was admitted")
            return
        }
        // Attempts that never reached a check are taken back; the block they set stays.
        throttle.finish(admitted[2], .abandoned, now: 0)
        throttle.finish(admitted[1], .failed, now: 0)
        #expect(throttle.wait(instance: "shop", client: client, now: 0) == 1)
        // A success clears its own client only: not the same address on another instance.
        throttle.recordFailure(instance: "other", client: client, now: 0)
        throttle.recordFailure(instance: "other", client: client, now: 0)
        throttle.recordFailure(instance: "other", client: client, now: 0)
        throttle.finish(admitted[0], .succeeded, now: 0)
        #expect(throttle.wait(instance: "shop", client: client, now: 0) == nil)
        #expect(throttle.wait(instance: "other", client: client, now: 0) == 1)
    }

    @Test func anAttackOnAnInstanceDelaysNewAddressesBrieflyAndTrustedOnesNotAtAll() {
        var policy = LoginThrottle.Policy()
        policy.freeFailuresPerClient = 1_000
        policy.freeFailuresPerInstance = 3
        policy.maximumInstanceDelay = 5_000_000
        let throttle = LoginThrottle(policy: policy)
        if case .admitted(let login) = throttle.admit(
            instance: "shop", client: ip("192.0.2.1"), now: 0)
        {
            throttle.finish(login, .succeeded, now: 0)
        }
        for attacker in 0..<100 {
            throttle.recordFailure(
                instance: "shop", client: IPAddress(v4: 0xc633_6400 + UInt32(attacker)), now: 10)
        }
        let newcomer = throttle.wait(instance: "shop", client: ip("192.0.2.99"), now: 10)
        #expect(newcomer == 5)
        #expect(throttle.wait(instance: "shop", client: ip("192.0.2.1"), now: 10) == nil)
        #expect(throttle.wait(instance: "other", client: ip("192.0.2.99"), now: 10) == nil)
        #expect(throttle.wait(instance: "shop", client: ip("192.0.2.99"), now: 5_000_010) == nil)
    }

    @Test func withoutRecentFailuresTheClientIsNotEvenLookedAt() {
        let throttle = LoginThrottle()
        var asked = 0
        func client() -> IPAddress {
            asked += 1
            return ip("10.0.0.9")
        }
        #expect(throttle.wait(instance: "shop", client: client(), now: 1_000) == nil)
        #expect(asked == 0)
        throttle.recordFailure(instance: "shop", client: ip("10.0.0.9"), now: 2_000)
        #expect(throttle.wait(instance: "shop", client: client(), now: 3_000) == nil)
        #expect(asked == 1)
        let later = 2_000 + throttle.policy.maximumClientDelay + throttle.policy.window + 1
        #expect(throttle.wait(instance: "shop", client: client(), now: later) == nil)
        #expect(asked == 1)
    }

    /// A table of one bucket, where every key meets every other, blocking each client at its
    /// second failure.
    private func oneBucket() -> LoginThrottle {
        var policy = LoginThrottle.Policy()
        policy.slots = LoginThrottle.ways
        policy.freeFailuresPerClient = 1
        policy.freeFailuresPerInstance = 1_000_000
        return LoginThrottle(policy: policy)
    }

    /// Blocks `count` attacker addresses on `shop` at time 0.
    private func attack(_ throttle: LoginThrottle, from count: Int) {
        for attacker in 0..<count {
            let address = IPAddress(v4: 0xc633_6400 + UInt32(attacker))
            throttle.recordFailure(instance: "shop", client: address, now: 0)
            throttle.recordFailure(instance: "shop", client: address, now: 0)
            #expect(throttle.wait(instance: "shop", client: address, now: 0) == 1)
        }
    }

    @Test func aTenantKeepsItsOwnCountBesideAttackersInItsBucket() {
        let throttle = oneBucket()
        attack(throttle, from: LoginThrottle.ways - 1)
        // The last free slot of the bucket: the tenant's own logins go through, and its own
        // failure is its own, cleared by its next success.
        let tenant = ip("192.0.2.1")
        for outcome in [LoginThrottle.Outcome.succeeded, .failed, .succeeded] {
            guard
                case .admitted(let login) = throttle.admit(
                    instance: "other", client: tenant, now: 0)
            else {
                Issue.record("the tenant was held back by the attackers' counts")
                return
            }
            throttle.finish(login, outcome, now: 0)
        }
        #expect(throttle.wait(instance: "other", client: tenant, now: 0) == nil)
    }

    @Test func keysThatFindNoSlotShareOneStricterNeverLooser() {
        let throttle = oneBucket()
        attack(throttle, from: LoginThrottle.ways)
        // The bucket is full of live keys: a newcomer is counted in its first slot, shared,
        // so it carries that slot's block, and its success there clears nothing.
        let tenant = ip("192.0.2.1")
        #expect(throttle.wait(instance: "other", client: tenant, now: 0) == nil)
        guard case .wait(seconds: 1) = throttle.admit(instance: "other", client: tenant, now: 0)
        else {
            Issue.record("a key with no slot of its own escaped the shared slot's block")
            return
        }
        #expect(throttle.wait(instance: "other", client: tenant, now: 0) == 1)
        guard
            case .admitted(let login) = throttle.admit(
                instance: "other", client: tenant, now: 1_000_000)
        else {
            Issue.record("held back after the block passed")
            return
        }
        throttle.recordFailure(instance: "other", client: tenant, now: 1_000_000)
        throttle.finish(login, .succeeded, now: 1_000_000)
        // The attacker's two failures, the tenant's one and its attempt in flight: 4 s.
        #expect(throttle.wait(instance: "other", client: tenant, now: 1_000_000) == 4)
        // Once the attackers' failures are out of the window, the tenant gets a slot of its
        // own again and starts from nothing.
        let later = 1_000_000 + throttle.policy.window + 1
        #expect(throttle.wait(instance: "other", client: tenant, now: later) == nil)
        guard case .admitted = throttle.admit(instance: "other", client: tenant, now: later)
        else {
            Issue.record("held back after every failure left the window")
            return
        }
    }

    @Test func memoryIsFixedWhateverTheNumberOfAddresses() {
        var policy = LoginThrottle.Policy()
        policy.slots = 16
        policy.freeFailuresPerClient = 0
        policy.freeFailuresPerInstance = 1_000_000
        let throttle = LoginThrottle(policy: policy)
        for address in 0..<10_000 {
            throttle.recordFailure(
                instance: "shop", client: IPAddress(v4: UInt32(address)), now: Int64(address))
        }
        #expect(throttle.slotCount == 16 * 3)
    }
}

/// An address the test knows is well formed.
func ip(_ text: String) -> IPAddress { IPAddress(text)! }

@Suite("Authorization header")
struct AuthorizationHeaderTests {
    @Test func formsOfTheHeader() {
        #expect(AuthorizationHeader.parse(nil).map { "\($0)" } == "none")
        #expect(
            AuthorizationHeader.parse("Basic c2hvcDpwdzpjb2xvbg==").map { "\($0)" }
                == "basic(shop, ***)")
        if case .basic(let user, let password)? = AuthorizationHeader.parse(
            "basic   c2hvcDpwdzpjb2xvbg")
        {
            #expect(user == "shop")
            #expect(password == "pw:colon")
        } else {
            Issue.record("basic not parsed")
        }
        if case .secretToken(let text)? = AuthorizationHeader.parse("Bearer  secret-token:abc  ") {
            #expect(text == "abc")
        } else {
            Issue.record("bearer not parsed")
        }
        #expect(AuthorizationHeader.parse("Basic !!!") == nil)
        #expect(AuthorizationHeader.parse("Basic c2hvcDpwdw== junk") == nil)
        #expect(AuthorizationHeader.parse("Basic c2hvcDpwdw==\tc2hvcDpwdw==") == nil)
        #expect(
            AuthorizationHeader.parse("Basic c2hvcDpwdw== \t ").map { "\($0)" }
                == "basic(shop, ***)")
        #expect(AuthorizationHeader.parse("Bearer abc") == nil)
        #expect(AuthorizationHeader.parse("Bearer secret-token:") == nil)
        #expect(AuthorizationHeader.parse("Token secret-token:abc") == nil)
        #expect(Base64.encode(Array("shop:pw:colon".utf8)) == "c2hvcDpwdzpjb2xvbg==")
    }

    @Test func jsonParserIsStrict() throws {
        #expect(throws: JSONSyntaxError.self) { try JSONValue.parse(Array("{\"a\":01}".utf8)) }
        #expect(throws: JSONSyntaxError.self) { try JSONValue.parse(Array("{\"a\":1,}".utf8)) }
        #expect(throws: JSONSyntaxError.self) { try JSONValue.parse(Array("[1] x".utf8)) }
        #expect(throws: JSONSyntaxError.self) {
            try JSONValue.parse(
                Array(
                    (String(repeating: "[", count: 100) + String(repeating: "]", count: 100)).utf8))
        }
        let value = try JSONValue.parse(
            Array(#" {"s":"a\u00e9\ud83d\ude00\n","n":-1.5e3,"b":[true,null]} "#.utf8))
        #expect(value["s"]?.stringValue == "aé😀\n")
        #expect(value["n"] == .number("-1.5e3"))
        #expect(value["n"]?.integer == nil)
        #expect(value["b"]?.arrayValue == [.bool(true), .null])
    }
}
