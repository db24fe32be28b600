import HTTPTypes

/// The reverse proxies whose forwarded headers name the client (the `trusted-proxies`
/// setting, spec §10.4), and the rule that finds the client's address.
///
/// Behind a reverse proxy every request comes from the proxy: counted by the TCP peer alone,
/// one attacker's failures would hold back every client, and any client's login would clear
/// the attacker's count. So when the peer is a trusted proxy, the client is read from the
/// headers it adds:
///
/// - `X-Forwarded-For: client, proxy1, proxy2` and RFC 7239
///   `Forwarded: for=client, for="[2001:db8::1]:4711";proto=https` are lists in which each
///   proxy appends the address it received the request from. Only the entries on the right,
///   added by trusted proxies, can be believed: anything to their left may be the client's
///   own invention. So the client is the **rightmost entry that is not a trusted proxy**
///   (every entry trusted: the leftmost). An entry that names no address (`Forwarded`'s
///   `unknown` or an obfuscated `_name`, or an element without `for=`) ends the walk: the
///   client is then counted as the trusted hop that reported it.
/// - From a peer that is not trusted, both headers are ignored: anyone can send them.
/// - **Malformed** (see ``parseXForwardedFor(_:)`` and ``parseForwarded(_:)``): the peer is
///   the client. The proxy that sent it is trusted but misconfigured, and guessing at a
///   broken header could let a client choose its own address.
/// - **Both headers present**: each is resolved on its own; when both name the same client,
///   that is the client, otherwise (they differ, or either is malformed) the peer is. A proxy
///   usually writes one of the two and passes the other through from the client unchanged,
///   so believing either one alone would let a client that adds the other choose its
///   address. With this rule such a client is counted as the proxy, which holds back only
///   requests that carry both headers inconsistently, never the proxy's other clients.
public struct TrustedProxies: Equatable, Sendable, CustomStringConvertible {
    /// Trusted blocks of addresses.
    public var networks: [IPNetwork]
    /// Whether a peer without an IP address (a UNIX socket; the in-process test client) is
    /// trusted: the setting's word `unix`.
    public var peersWithoutAddress: Bool

    public init(networks: [IPNetwork] = [], peersWithoutAddress: Bool = false) {
        self.networks = networks
        self.peersWithoutAddress = peersWithoutAddress
    }

    /// No proxy is trusted (the default): the TCP peer is the client.
    public static let none = TrustedProxies()

    /// A `trusted-proxies` value that cannot be read.
    public struct Invalid: Error, Equatable, CustomStringConvertible {
        /// The entry at fault, as written.
        public var entry: String
        public var description: String {
            "trusted-proxies: \"\(entry)\" is not an IP address, a CIDR block (address/length, "
                + "no bits set after the prefix) or unix"
        }
    }

    /// Reads the setting: addresses, CIDR blocks and `unix`, separated by commas (spaces
    /// around them allowed). Empty: none.
    /// - Throws: ``Invalid`` naming the first entry that is none of those (an empty entry
    ///   included), so a typo does not silently trust nothing or everything.
    public init(parsing setting: String) throws(Invalid) {
        self.init()
        if setting.allSatisfy({ $0 == " " || $0 == "\t" }) { return }
        for raw in setting.split(separator: ",", omittingEmptySubsequences: false) {
            let entry = raw.trimmingOWS()
            if entry == "unix" {
                peersWithoutAddress = true
            } else if let network = IPNetwork(entry) {
                networks.append(network)
            } else {
                throw Invalid(entry: String(entry))
            }
        }
    }

    public var description: String {
        (networks.map(\.description) + (peersWithoutAddress ? ["unix"] : []))
            .joined(separator: ", ")
    }

    /// Whether `peer` (`nil`: no IP address) is a trusted proxy.
    public func trusts(_ peer: IPAddress?) -> Bool {
        guard let peer else { return peersWithoutAddress }
        return networks.contains { $0.contains(peer) }
    }

    /// The client's address for a request from `peer` (`nil`: no IP address), by the rule
    /// above; ``IPAddress/unspecified`` when nothing names one.
    public func client(of peer: IPAddress?, headers: HTTPFields) -> IPAddress {
        guard trusts(peer) else { return peer ?? .unspecified }
        let forwardedFor = headers[values: Self.xForwardedFor]
        let forwarded = headers[values: Self.forwarded]
        return client(of: peer, xForwardedFor: forwardedFor, forwarded: forwarded)
            ?? .unspecified
    }

    /// The rule on the header values as received (`[]`: absent), for a trusted `peer`.
    func client(of peer: IPAddress?, xForwardedFor: [String], forwarded: [String])
        -> IPAddress?
    {
        let fromXFF = xForwardedFor.isEmpty ? nil : Self.parseXForwardedFor(xForwardedFor)
        let fromForwarded = forwarded.isEmpty ? nil : Self.parseForwarded(forwarded)
        switch (xForwardedFor.isEmpty, forwarded.isEmpty) {
        case (true, true):
            return peer
        case (false, true):
            return fromXFF.map { walk($0, from: peer) } ?? peer
        case (true, false):
            return fromForwarded.map { walk($0, from: peer) } ?? peer
        case (false, false):
            guard let fromXFF, let fromForwarded else { return peer }
            let one = walk(fromXFF, from: peer)
            let other = walk(fromForwarded, from: peer)
            return one == other ? one : peer
        }
    }

    /// The rightmost hop that is not trusted, walking left from the (trusted) peer.
    private func walk(_ hops: [Hop], from peer: IPAddress?) -> IPAddress? {
        var nearest = peer
        for hop in hops.reversed() {
            guard case .address(let address) = hop else { return nearest }
            guard trusts(address) else { return address }
            nearest = address
        }
        return nearest
    }

    static let xForwardedFor = HTTPField.Name("X-Forwarded-For")!
    static let forwarded = HTTPField.Name("Forwarded")!

    /// One entry of a forwarded list.
    enum Hop: Equatable {
        case address(IPAddress)
        /// `unknown`, an obfuscated identifier, or a `Forwarded` element without `for=`.
        case unnamed
    }

    // MARK: Parsing

    /// `X-Forwarded-For` (all its field lines, in order): a comma-separated list whose entries
    /// are each an IPv4 address, an IPv6 address bare or in brackets, optionally followed by
    /// `:port` (IPv4, or bracketed IPv6). Spaces around commas and empty list elements are
    /// allowed (RFC 9110 §5.6.1); anything else (`unknown`, a host name, a zone) makes the
    /// whole header malformed: `nil`, as does a list with no entry.
    static func parseXForwardedFor(_ lines: [String]) -> [Hop]? {
        var hops = [Hop]()
        for line in lines {
            for raw in Array(line.utf8).split(
                separator: UInt8(ascii: ","), omittingEmptySubsequences: false)
            {
                let entry = raw.trimmingOWS()
                if entry.isEmpty { continue }
                guard let address = node(entry, bareIPv6: true) else { return nil }
                hops.append(.address(address))
            }
        }
        return hops.isEmpty ? nil : hops
    }

    /// `Forwarded` (RFC 7239 §4, all field lines in order): comma-separated elements of
    /// `;`-separated `name=value` pairs, the value a token or a quoted string, names in any
    /// case, each at most once per element, no spaces inside an element. Only `for` is read:
    /// `IPv4[:port]`, `"[IPv6][:port]"` (quoted: brackets and colons are not token
    /// characters), `unknown` or an obfuscated `_name[:port]`. Anything else: `nil`.
    static func parseForwarded(_ lines: [String]) -> [Hop]? {
        var hops = [Hop]()
        for line in lines {
            var scanner = Scanner(Array(line.utf8))
            while true {
                scanner.skipOWS()
                if scanner.atEnd { break }
                if scanner.take(UInt8(ascii: ",")) { continue }  // an empty list element
                guard let hop = element(&scanner) else { return nil }
                hops.append(hop)
                scanner.skipOWS()
                if scanner.atEnd { break }
                guard scanner.take(UInt8(ascii: ",")) else { return nil }
            }
        }
        return hops.isEmpty ? nil : hops
    }

    /// One `Forwarded` element, up to (not including) the next `,` or the end.
    private static func element(_ scanner: inout Scanner) -> Hop? {
        var names = Set<[UInt8]>()
        var hop = Hop.unnamed
        repeat {
            if scanner.atEnd || scanner.peekIsOWS || scanner.peek == UInt8(ascii: ",")
                || scanner.peek == UInt8(ascii: ";")
            {
                continue  // an empty pair
            }
            let name = scanner.token().map(lowercased)
            guard !name.isEmpty, names.insert(name).inserted, scanner.take(UInt8(ascii: "="))
            else { return nil }
            let value: [UInt8]
            if scanner.peek == UInt8(ascii: "\"") {
                guard let quoted = scanner.quotedString() else { return nil }
                value = quoted
            } else {
                value = scanner.token()
                guard !value.isEmpty else { return nil }
            }
            if name == Array("for".utf8) {
                if let obfuscated = unnamedNode(value[...]) {
                    guard obfuscated else { return nil }
                } else {
                    guard let address = node(value[...], bareIPv6: false) else { return nil }
                    hop = .address(address)
                }
            }
        } while scanner.take(UInt8(ascii: ";"))
        guard scanner.atEnd || scanner.peek == UInt8(ascii: ",") || scanner.peekIsOWS else {
            return nil
        }
        return hop
    }

    /// `true` for `unknown` or an obfuscated `_name` (each with an optional `:port` or
    /// `:_obfport`), `false` for such a name with a malformed port, `nil` for anything else.
    private static func unnamedNode(_ value: ArraySlice<UInt8>) -> Bool? {
        let parts = value.split(
            separator: UInt8(ascii: ":"), maxSplits: 1, omittingEmptySubsequences: false)
        let name = parts[0]
        let isUnknown = name.map(lowercased).elementsEqual("unknown".utf8)
        guard isUnknown || isObfuscated(name) else { return nil }
        guard parts.count == 2 else { return true }
        return isPort(parts[1]) || isObfuscated(parts[1])
    }

    /// An address with an optional port: `a.b.c.d`, `a.b.c.d:port`, `[v6]`, `[v6]:port`, and
    /// a bare `v6` when `bareIPv6` (X-Forwarded-For only; a bare IPv6 address has no port).
    private static func node(_ text: ArraySlice<UInt8>, bareIPv6: Bool) -> IPAddress? {
        if text.first == UInt8(ascii: "[") {
            guard let close = text.firstIndex(of: UInt8(ascii: "]")) else { return nil }
            let inside = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard inside.contains(UInt8(ascii: ":")),
                let address = IPAddress(Substring(decoding: inside, as: UTF8.self))
            else { return nil }
            if rest.isEmpty { return address }
            guard rest.first == UInt8(ascii: ":"), isPort(rest.dropFirst()) else { return nil }
            return address
        }
        let colons = text.count(where: { $0 == UInt8(ascii: ":") })
        if colons == 0 || (colons == 1 && text.contains(UInt8(ascii: "."))) {
            let parts = text.split(
                separator: UInt8(ascii: ":"), maxSplits: 1, omittingEmptySubsequences: false)
            guard let v4 = IPAddress.parseV4(parts[0]) else { return nil }
            guard parts.count == 1 || isPort(parts[1]) else { return nil }
            return IPAddress(v4: v4)
        }
        guard bareIPv6 else { return nil }
        return IPAddress(Substring(decoding: text, as: UTF8.self))
    }

    /// 1–5 digits, at most 65535.
    private static func isPort(_ text: ArraySlice<UInt8>) -> Bool {
        (1...5).contains(text.count)
            && text.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
            && text.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) } <= 65_535
    }

    /// `_` followed by one or more of `A-Z a-z 0-9 . _ -` (RFC 7239 §6.3).
    private static func isObfuscated(_ text: ArraySlice<UInt8>) -> Bool {
        text.count >= 2 && text.first == UInt8(ascii: "_")
            && text.dropFirst().allSatisfy { byte in
                isAlphanumeric(byte) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_")
                    || byte == UInt8(ascii: "-")
            }
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
            || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
            || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
    }

    private static func lowercased(_ byte: UInt8) -> UInt8 {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte + 32 : byte
    }

    /// A cursor over a header value's bytes.
    struct Scanner {
        private let bytes: [UInt8]
        private var at = 0

        init(_ bytes: [UInt8]) { self.bytes = bytes }

        var atEnd: Bool { at == bytes.count }
        var peek: UInt8? { atEnd ? nil : bytes[at] }
        var peekIsOWS: Bool { peek == UInt8(ascii: " ") || peek == UInt8(ascii: "\t") }

        mutating func skipOWS() { while peekIsOWS { at += 1 } }

        mutating func take(_ byte: UInt8) -> Bool {
            guard peek == byte else { return false }
            at += 1
            return true
        }

        /// The longest run of RFC 9110 token characters (possibly empty).
        mutating func token() -> [UInt8] {
            let start = at
            while let byte = peek, Self.isTokenCharacter(byte) { at += 1 }
            return Array(bytes[start..<at])
        }

        /// A quoted string's content with `\x` escapes resolved; `nil` when it is not closed
        /// or holds a control character.
        mutating func quotedString() -> [UInt8]? {
            guard take(UInt8(ascii: "\"")) else { return nil }
            var out = [UInt8]()
            while let byte = peek {
                at += 1
                switch byte {
                case UInt8(ascii: "\""):
                    return out
                case UInt8(ascii: "\\"):
                    guard let escaped = peek, escaped == 0x09 || escaped >= 0x20, escaped != 0x7f
                    else { return nil }
                    at += 1
                    out.append(escaped)
                case 0x09, 0x20...0x7e, 0x80...0xff:
                    out.append(byte)
                default:
                    return nil
                }
            }
            return nil
        }

        static func isTokenCharacter(_ byte: UInt8) -> Bool {
            TrustedProxies.isAlphanumeric(byte) || Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
        }
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces and tabs (HTTP's optional whitespace).
    fileprivate func trimmingOWS() -> SubSequence {
        var text = self[...]
        while let first = text.first, first == " " || first == "\t" { text = text.dropFirst() }
        while let last = text.last, last == " " || last == "\t" { text = text.dropLast() }
        return text
    }
}

extension ArraySlice<UInt8> {
    /// Without leading and trailing spaces and tabs (HTTP's optional whitespace).
    fileprivate func trimmingOWS() -> ArraySlice<UInt8> {
        var text = self
        while let first = text.first, first == 0x20 || first == 0x09 { text = text.dropFirst() }
        while let last = text.last, last == 0x20 || last == 0x09 { text = text.dropLast() }
        return text
    }
}
