import NIOCore
import TokenEngine

/// An IP address as the login throttle and the password-hashing queue count clients.
///
/// IPv4 and IPv6 are one type: 128 bits, with IPv4 in its IPv4-mapped form
/// (`::ffff:a.b.c.d`, RFC 4291 §2.5.5.2), so a client that reaches a dual-stack socket over
/// IPv4 and the same client named `a.b.c.d` in a forwarded header are one client.
/// ``group`` is what is counted: an IPv4 address itself, an IPv6 address its /64 (one
/// subscriber usually holds a whole /64, and could otherwise use 2^64 addresses as as many
/// clients).
///
/// Parsing is strict (``init(_:)``): a text that is not exactly an address is refused, never
/// guessed at. Addresses are not secret, but they are personal data: the server's log lines
/// never carry them.
public struct IPAddress: Hashable, Sendable, CustomStringConvertible {
    /// The first 64 bits, in network order.
    public var high: UInt64
    /// The last 64 bits, in network order.
    public var low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// The IPv4-mapped form of `v4` (host byte order: `0x7f000001` is 127.0.0.1).
    public init(v4: UInt32) {
        self.init(high: 0, low: 0xffff_0000_0000 | UInt64(v4))
    }

    /// `::`, the unspecified address: never a real peer. A peer without an IP address (a UNIX
    /// socket, the in-process test client) is counted as this address.
    public static let unspecified = IPAddress(high: 0, low: 0)

    /// Whether this is an IPv4 address (kept in its mapped form).
    public var isV4: Bool { high == 0 && low >> 32 == 0xffff }

    /// The address a client is counted as: an IPv4 address itself, an IPv6 address its /64.
    public var group: IPAddress { isV4 ? self : IPAddress(high: high, low: 0) }

    /// The client's share of the password-hashing queue: its ``group``.
    public var requester: RequesterKey { RequesterKey(high: group.high, low: group.low) }

    /// The first `bits` bits of the 128 (IPv4 prefixes count from 96), the rest zero.
    func masked(to bits: Int) -> IPAddress {
        func mask(_ word: UInt64, keeping count: Int) -> UInt64 {
            count <= 0 ? 0 : count >= 64 ? word : word & ~(UInt64.max >> UInt64(count))
        }
        return IPAddress(high: mask(high, keeping: bits), low: mask(low, keeping: bits - 64))
    }

    /// The peer of `channel`, or `nil` when it has none or no IP address (a UNIX socket, the
    /// in-process test client).
    init?(peerOf channel: any Channel) {
        guard let address = channel.remoteAddress else { return nil }
        self.init(address)
    }

    /// The peer of a connection, or `nil` when it has no IP address (a UNIX socket).
    init?(_ address: SocketAddress) {
        switch address {
        case .v4(let v4):
            self.init(v4: UInt32(bigEndian: v4.address.sin_addr.s_addr))
        case .v6(let v6):
            var raw = v6.address.sin6_addr
            let words = withUnsafeBytes(of: &raw) { bytes in
                (
                    UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
                    UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
                )
            }
            self.init(high: words.0, low: words.1)
        case .unixDomainSocket:
            return nil
        }
    }

    // MARK: Text

    /// Parses an address exactly as written: IPv4 as four decimal numbers 0–255 without
    /// leading zeros (`010.0.0.1` would be octal to some parsers, so it is refused), or IPv6
    /// as RFC 4291 §2.2 writes it (1–4 hex digits per group, at most one `::`, an IPv4
    /// address as the last 32 bits). No brackets, port, zone (`%eth0`) or whitespace.
    public init?(_ text: some StringProtocol) {
        let bytes = Array(text.utf8)
        if !bytes.contains(UInt8(ascii: ":")) {
            guard let v4 = Self.parseV4(bytes[...]) else { return nil }
            self.init(v4: v4)
            return
        }
        guard let (high, low) = Self.parseV6(bytes) else { return nil }
        self.init(high: high, low: low)
    }

    static func parseV4(_ bytes: ArraySlice<UInt8>) -> UInt32? {
        let parts = bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard (1...3).contains(part.count), part.allSatisfy(isDigit),
                part.count == 1 || part.first != UInt8(ascii: "0")
            else { return nil }
            let octet = part.reduce(0) { $0 * 10 + UInt32($1 - UInt8(ascii: "0")) }
            guard octet <= 255 else { return nil }
            value = value << 8 | octet
        }
        return value
    }

    private static func parseV6(_ bytes: [UInt8]) -> (UInt64, UInt64)? {
        // Split at the one `::`, if any; each side is a list of groups.
        var head = bytes[...]
        var tail: ArraySlice<UInt8>?
        if let at = (0..<max(bytes.count - 1, 0)).first(where: {
            bytes[$0] == UInt8(ascii: ":") && bytes[$0 + 1] == UInt8(ascii: ":")
        }) {
            head = bytes[..<at]
            tail = bytes[(at + 2)...]
        }
        guard let headGroups = groups(head, last: tail == nil),
            let tailGroups = tail.map({ groups($0, last: true) }) ?? []
        else { return nil }
        let count = headGroups.count + tailGroups.count
        if tail == nil {
            guard count == 8 else { return nil }
        } else {
            guard count <= 7 else { return nil }
        }
        let all = headGroups + Array(repeating: 0, count: 8 - count) + tailGroups
        let high = all[0..<4].reduce(UInt64(0)) { $0 << 16 | UInt64($1) }
        let low = all[4..<8].reduce(UInt64(0)) { $0 << 16 | UInt64($1) }
        return (high, low)
    }

    /// The 16-bit groups of one side of `::` (empty text: none). When `last`, the final group
    /// may be a dotted IPv4 address (two groups).
    private static func groups(_ text: ArraySlice<UInt8>, last: Bool) -> [UInt16]? {
        if text.isEmpty { return [] }
        let parts = text.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
        var out = [UInt16]()
        for (index, part) in parts.enumerated() {
            if last, index == parts.count - 1, part.contains(UInt8(ascii: ".")) {
                guard let v4 = parseV4(part) else { return nil }
                out += [UInt16(v4 >> 16), UInt16(v4 & 0xffff)]
                continue
            }
            guard (1...4).contains(part.count) else { return nil }
            var value: UInt16 = 0
            for byte in part {
                guard let digit = hexValue(byte) else { return nil }
                value = value << 4 | UInt16(digit)
            }
            out.append(value)
        }
        return out
    }

    private static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// IPv4 dotted; IPv6 as RFC 5952 recommends (lower case, no leading zeros, the longest
    /// run of two or more zero groups as `::`).
    public var description: String {
        if isV4 {
            let v4 = UInt32(truncatingIfNeeded: low)
            return [24, 16, 8, 0].map { String((v4 >> UInt32($0)) & 0xff) }.joined(separator: ".")
        }
        let words = (0..<8).map { index -> UInt16 in
            let word = index < 4 ? high : low
            return UInt16(truncatingIfNeeded: word >> UInt64(48 - 16 * (index % 4)))
        }
        var best = (start: -1, count: 1)
        var index = 0
        while index < 8 {
            var end = index
            while end < 8, words[end] == 0 { end += 1 }
            if end - index > best.count { best = (index, end - index) }
            index = max(end, index + 1)
        }
        func hex(_ range: Range<Int>) -> String {
            range.map { String(words[$0], radix: 16) }.joined(separator: ":")
        }
        guard best.start >= 0 else { return hex(0..<8) }
        return hex(0..<best.start) + "::" + hex((best.start + best.count)..<8)
    }
}
