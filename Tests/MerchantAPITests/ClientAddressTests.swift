import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

@testable import MerchantAPI

/// Who the client is (spec §10.4): IP addresses and blocks parsed strictly, IPv6 counted per
/// /64, and the forwarded headers of trusted proxies only.
@Suite("Client addresses and trusted proxies")
struct ClientAddressTests {
    static let addresses: [(text: String, parsed: String?)] = [
        ("192.0.2.1", "192.0.2.1"),
        ("0.0.0.0", "0.0.0.0"),
        ("255.255.255.255", "255.255.255.255"),
        ("256.0.0.1", nil),
        ("192.0.2", nil),
        ("192.0.2.1.5", nil),
        ("192.0.2.01", nil),  // a leading zero reads as octal to some parsers
        ("192.0.2.1 ", nil),
        (" 192.0.2.1", nil),
        ("192.0.2.-1", nil),
        ("192.0.2.1:80", nil),
        ("", nil),
        ("2001:db8::1", "2001:db8::1"),
        ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
        ("::", "::"),
        ("::1", "::1"),
        ("1::", "1::"),
        ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"),
        ("1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"),
        ("::ffff:192.0.2.1", "192.0.2.1"),  // IPv4-mapped is IPv4
        ("::FFFF:c000:0201", "192.0.2.1"),
        ("64:ff9b::192.0.2.1", "64:ff9b::c000:201"),
        ("1:2:3:4:5:6:7:8:9", nil),
        ("1:2:3:4:5:6:7", nil),
        ("1::2::3", nil),
        (":::", nil),
        (":1::", nil),
        ("1:::2", nil),
        ("12345::", nil),
        ("g::1", nil),
        ("fe80::1%eth0", nil),
        ("[2001:db8::1]", nil),
        ("1.2.3.4::", nil),
        ("::1.2.3", nil),
        ("1:2:3:4:5:6:7:1.2.3.4", nil),
    ]

    @Test(arguments: addresses)
    func addressesParseStrictly(_ text: String, _ parsed: String?) {
        #expect(IPAddress(text)?.description == parsed)
    }

    @Test func ipv6IsCountedPerSlash64AndIPv4PerAddress() throws {
        let one = try #require(IPAddress("2001:db8:1:2:aaaa::1"))
        let sameSlash64 = try #require(IPAddress("2001:db8:1:2:ffff:1:2:3"))
        let nextSlash64 = try #require(IPAddress("2001:db8:1:3::1"))
        #expect(one.group == sameSlash64.group)
        #expect(one.group.description == "2001:db8:1:2::")
        #expect(one.group != nextSlash64.group)
        let v4 = try #require(IPAddress("192.0.2.1"))
        #expect(v4.group == v4)
        #expect(v4.group != IPAddress("192.0.2.2")?.group)
        #expect(IPAddress("::ffff:192.0.2.1")?.group == v4)
    }

    static let networks: [(text: String, parsed: String?)] = [
        ("10.0.0.0/8", "10.0.0.0/8"),
        ("10.0.0.1", "10.0.0.1/32"),
        ("10.0.0.1/32", "10.0.0.1/32"),
        ("0.0.0.0/0", "0.0.0.0/0"),
        ("10.0.0.1/8", nil),  // bits after the prefix: one of the two numbers is a typo
        ("10.0.0.0/33", nil),
        ("10.0.0.0/08", nil),
        ("10.0.0.0/", nil),
        ("10.0.0.0/8/8", nil),
        ("10.0.0.0/-8", nil),
        ("2001:db8::/32", "2001:db8::/32"),
        ("2001:db8::1", "2001:db8::1/128"),
        ("::/0", "::/0"),
        ("2001:db8::1/64", nil),
        ("2001:db8::/129", nil),
        ("unix", nil),
    ]

    @Test(arguments: networks)
    func networksParseStrictly(_ text: String, _ parsed: String?) {
        #expect(IPNetwork(text)?.description == parsed)
    }

    @Test func networksContainTheirAddressesIPv4MappedIncluded() throws {
        let v4 = try #require(IPNetwork("10.0.0.0/8"))
        #expect(v4.contains(try #require(IPAddress("10.255.0.1"))))
        #expect(v4.contains(try #require(IPAddress("::ffff:10.1.2.3"))))
        #expect(!v4.contains(try #require(IPAddress("11.0.0.1"))))
        let v6 = try #require(IPNetwork("2001:db8::/32"))
        #expect(v6.contains(try #require(IPAddress("2001:db8:ffff::1"))))
        #expect(!v6.contains(try #require(IPAddress("2001:db9::1"))))
        #expect(!v6.contains(try #require(IPAddress("10.0.0.1"))))
    }

    @Test func theSettingListsAddressesBlocksAndUnix() throws {
        let proxies = try TrustedProxies(parsing: " 10.0.0.0/8, ::1 ,unix,192.0.2.7")
        #expect(proxies.description == "10.0.0.0/8, ::1/128, 192.0.2.7/32, unix")
        #expect(proxies.trusts(IPAddress("10.2.3.4")))
        #expect(proxies.trusts(IPAddress("::1")))
        #expect(proxies.trusts(nil))
        #expect(!proxies.trusts(IPAddress("192.0.2.8")))
        #expect(try TrustedProxies(parsing: "") == .none)
        #expect(try TrustedProxies(parsing: "  ") == .none)
        #expect(!TrustedProxies.none.trusts(nil))
        for bad in ["10.0.0.1/8", "10.0.0.0/8,", ",::1", "localhost", "10.0.0.0/8;::1", "UNIX"] {
            #expect(throws: TrustedProxies.Invalid.self, "\(bad)") {
                try TrustedProxies(parsing: bad)
            }
        }
    }

    static let forwardedFor: [(lines: [String], hops: [String]?)] = [
        (["203.0.113.9"], ["203.0.113.9"]),
        (["203.0.113.9, 10.0.0.2"], ["203.0.113.9", "10.0.0.2"]),
        (["203.0.113.9,10.0.0.2", "10.0.0.3"], ["203.0.113.9", "10.0.0.2", "10.0.0.3"]),
        (["203.0.113.9:4711"], ["203.0.113.9"]),
        (["2001:db8::1"], ["2001:db8::1"]),
        (["[2001:db8::1]"], ["2001:db8::1"]),
        (["[2001:db8::1]:443, ::ffff:192.0.2.1"], ["2001:db8::1", "192.0.2.1"]),
        (["203.0.113.9, , 10.0.0.2"], ["203.0.113.9", "10.0.0.2"]),  // empty list elements
        ([""], nil),
        ([" , "], nil),
        (["unknown"], nil),
        (["203.0.113.9, unknown"], nil),
        (["proxy.example"], nil),
        (["203.0.113.9:"], nil),
        (["203.0.113.9:65536"], nil),
        (["203.0.113.9:http"], nil),
        (["[203.0.113.9]"], nil),
        (["[2001:db8::1"], nil),
        (["[2001:db8::1]x"], nil),
        (["fe80::1%eth0"], nil),
        (["203.0.113.9 10.0.0.2"], nil),
        (["203.0.113.9;10.0.0.2"], nil),
    ]

    @Test(arguments: forwardedFor)
    func xForwardedForParsesStrictly(_ lines: [String], _ hops: [String]?) {
        #expect(TrustedProxies.parseXForwardedFor(lines)?.map(\.text) == hops)
    }

    static let forwarded: [(lines: [String], hops: [String]?)] = [
        (["for=192.0.2.60;proto=http;by=203.0.113.43"], ["192.0.2.60"]),
        (["For=192.0.2.60"], ["192.0.2.60"]),
        ([#"for="192.0.2.60:4711""#], ["192.0.2.60"]),
        ([#"for="[2001:db8:cafe::17]:4711""#], ["2001:db8:cafe::17"]),
        ([#"for="[2001:db8:cafe::17]""#], ["2001:db8:cafe::17"]),
        ([#"for="\[2001:db8::1\]""#], ["2001:db8::1"]),  // quoted-pair escapes
        (["for=192.0.2.43, for=198.51.100.17"], ["192.0.2.43", "198.51.100.17"]),
        (["for=192.0.2.43", "for=198.51.100.17"], ["192.0.2.43", "198.51.100.17"]),
        (["for=192.0.2.43,for=198.51.100.17;proto=https"], ["192.0.2.43", "198.51.100.17"]),
        (["for=unknown, for=198.51.100.17"], ["?", "198.51.100.17"]),
        (["for=UNKNOWN"], ["?"]),
        (["for=_hidden, for=_SEVKISEK"], ["?", "?"]),
        ([#"for="_gazonk:_port""#], ["?"]),
        (["proto=https;by=10.0.0.1"], ["?"]),  // no `for`: the hop is unnamed
        (["for=192.0.2.60;;proto=http"], ["192.0.2.60"]),
        (["for=192.0.2.60, , for=10.0.0.1"], ["192.0.2.60", "10.0.0.1"]),
        ([""], nil),
        (["for=[2001:db8::1]"], nil),  // brackets are not token characters: must be quoted
        (["for=2001:db8::1"], nil),
        ([#"for="2001:db8::1""#], nil),  // IPv6 without brackets
        ([#"for="[192.0.2.1]""#], nil),
        (["for=192.0.2.60:4711"], nil),  // `:` is not a token character
        ([#"for="192.0.2.60"#], nil),  // unclosed quote
        (["for=192.0.2.60;for=192.0.2.61"], nil),  // a parameter twice in one element
        (["for =192.0.2.60"], nil),
        (["for= 192.0.2.60"], nil),
        (["for=192.0.2.60 ;proto=http"], nil),
        (["for"], nil),
        (["for="], nil),
        (["=192.0.2.60"], nil),
        (["for=proxy.example"], nil),
        (["for=_"], nil),
        ([#"for="_x:99999""#], nil),
        (["for=192.0.2.60 for=10.0.0.1"], nil),
    ]

    @Test(arguments: forwarded)
    func forwardedParsesStrictly(_ lines: [String], _ hops: [String]?) {
        #expect(TrustedProxies.parseForwarded(lines)?.map(\.text) == hops)
    }

    /// A request from `peer` with these headers, and the client it names.
    struct Resolution: Sendable, CustomTestStringConvertible {
        var peer: String?
        var xff: [String]
        var forwarded: [String]
        var client: String
        var testDescription: String { "\(peer ?? "no address") \(xff) \(forwarded)" }
    }

    /// With `10.0.0.0/8` and `2001:db8:ffff::/48` trusted.
    static let resolutions = resolutionRows.map {
        Resolution(peer: $0.0, xff: $0.1, forwarded: $0.2, client: $0.3)
    }
    private static let resolutionRows: [(String?, [String], [String], String)] =
        [
            // From a peer that is not trusted, the headers are ignored.
            ("203.0.113.9", ["198.51.100.1"], [], "203.0.113.9"),
            ("203.0.113.9", [], ["for=198.51.100.1"], "203.0.113.9"),
            (nil, ["198.51.100.1"], [], "::"),
            // A trusted peer without headers is the client.
            ("10.0.0.1", [], [], "10.0.0.1"),
            // The rightmost entry that is not trusted.
            ("10.0.0.1", ["198.51.100.1"], [], "198.51.100.1"),
            ("10.0.0.1", ["6.6.6.6, 198.51.100.1, 10.0.0.2"], [], "198.51.100.1"),
            ("10.0.0.1", ["6.6.6.6", "198.51.100.1", "10.0.0.2"], [], "198.51.100.1"),
            ("::ffff:10.0.0.1", ["198.51.100.1"], [], "198.51.100.1"),
            ("2001:db8:ffff:1::5", ["2001:db8:1::7"], [], "2001:db8:1::7"),
            // Every entry trusted: the leftmost.
            ("10.0.0.1", ["10.0.0.3, 10.0.0.2"], [], "10.0.0.3"),
            // Malformed from a trusted proxy: the peer.
            ("10.0.0.1", ["198.51.100.1, garbage"], [], "10.0.0.1"),
            ("10.0.0.1", [], ["for=[::1]"], "10.0.0.1"),
            // An unnamed hop: the trusted hop that reported it.
            ("10.0.0.1", [], ["for=unknown, for=10.0.0.2"], "10.0.0.2"),
            ("10.0.0.1", [], ["for=6.6.6.6, for=_hidden"], "10.0.0.1"),
            ("10.0.0.1", [], [#"for=198.51.100.1, for="[2001:db8:ffff::9]:80""#], "198.51.100.1"),
            // Both headers: the same client, or the peer.
            ("10.0.0.1", ["198.51.100.1"], ["for=198.51.100.1"], "198.51.100.1"),
            ("10.0.0.1", ["6.6.6.6, 198.51.100.1"], ["for=198.51.100.1"], "198.51.100.1"),
            ("10.0.0.1", ["198.51.100.1"], ["for=7.7.7.7"], "10.0.0.1"),
            ("10.0.0.1", ["198.51.100.1"], ["for=[::1]"], "10.0.0.1"),
        ]

    @Test(arguments: resolutions)
    func theClientIsTheRightmostUntrustedHopOfATrustedProxy(_ r: Resolution) throws {
        let proxies = try TrustedProxies(parsing: "10.0.0.0/8, 2001:db8:ffff::/48")
        var headers = HTTPFields()
        for line in r.xff {
            headers.append(HTTPField(name: TrustedProxies.xForwardedFor, value: line))
        }
        for line in r.forwarded {
            headers.append(HTTPField(name: TrustedProxies.forwarded, value: line))
        }
        let resolved = proxies.client(of: r.peer.flatMap { IPAddress($0) }, headers: headers)
        #expect(resolved.description == r.client)
    }

    /// Finding 2 of the adversarial probe: behind nginx every request came from the proxy, so
    /// one attacker locked every client out (and any login reset the attacker's count).
    @Test func behindATrustedProxyOneClientsFailuresHoldBackOnlyThatClient() async throws {
        var policy = LoginThrottle.Policy()
        policy.freeFailuresPerClient = 2
        let h = try await APIHarness(
            throttle: policy, trustedProxies: try TrustedProxies(parsing: "unix"))
        try await h.test { client in
            let attacker: HTTPFields = [TrustedProxies.xForwardedFor: "203.0.113.9"]
            var statuses = [HTTPResponse.Status]()
            for _ in 0..<4 {
                statuses.append(
                    try await client.call(
                        .post, "/instances/shop/private/token", auth: basic("shop", "guess"),
                        json: #"{"scope":"all"}"#, headers: attacker
                    ).status)
            }
            #expect(statuses == [.unauthorized, .unauthorized, .unauthorized, .tooManyRequests])
            let owner = try await client.call(
                .post, "/instances/shop/private/token",
                auth: basic("shop", APIHarness.shopPassword), json: #"{"scope":"all"}"#,
                headers: [TrustedProxies.xForwardedFor: "203.0.113.9, 198.51.100.1"])
            #expect(owner.status == .ok)
            h.remember(owner.json["access_token"]?.stringValue ?? "")
            // The owner's login did not reset the attacker's count.
            let still = try await client.call(
                .post, "/instances/shop/private/token", auth: basic("shop", "guess"),
                json: #"{"scope":"all"}"#, headers: attacker)
            #expect(still.status == .tooManyRequests)
            // A neighbour in the attacker's /64 is the attacker; the next /64 is not.
            for _ in 0..<3 {
                _ = try await client.call(
                    .post, "/instances/shop/private/token", auth: basic("shop", "guess"),
                    json: #"{"scope":"all"}"#,
                    headers: [TrustedProxies.xForwardedFor: "2001:db8:1:2::1"])
            }
            let neighbour = try await client.call(
                .post, "/instances/shop/private/token", auth: basic("shop", "guess"),
                json: #"{"scope":"all"}"#,
                headers: [TrustedProxies.xForwardedFor: "2001:db8:1:2:ffff::2"])
            #expect(neighbour.status == .tooManyRequests)
            let elsewhere = try await client.call(
                .post, "/instances/shop/private/token", auth: basic("shop", "guess"),
                json: #"{"scope":"all"}"#,
                headers: [TrustedProxies.xForwardedFor: "2001:db8:1:3::2"])
            #expect(elsewhere.status == .unauthorized)
        }
    }

    @Test func withoutTrustedProxiesForwardedHeadersChangeNothing() async throws {
        var policy = LoginThrottle.Policy()
        policy.freeFailuresPerClient = 2
        let h = try await APIHarness(throttle: policy)
        try await h.test { client in
            var statuses = [HTTPResponse.Status]()
            for n in 0..<4 {
                let forged: HTTPFields = [
                    TrustedProxies.xForwardedFor: "203.0.113.\(n)",
                    TrustedProxies.forwarded: "for=198.51.100.\(n)",
                ]
                statuses.append(
                    try await client.call(
                        .post, "/instances/shop/private/token", auth: basic("shop", "guess"),
                        json: #"{"scope":"all"}"#, headers: forged
                    ).status)
            }
            #expect(statuses == [.unauthorized, .unauthorized, .unauthorized, .tooManyRequests])
        }
    }
}

extension TrustedProxies.Hop {
    /// The address as text, `?` for an unnamed hop.
    var text: String {
        switch self {
        case .address(let address): address.description
        case .unnamed: "?"
        }
    }
}
