/// A block of IP addresses in CIDR form (`10.0.0.0/8`, `2001:db8::/32`), or one address.
///
/// IPv4 blocks are kept in the IPv4-mapped space like ``IPAddress`` (`/8` is bits 0–103 of
/// the 128), so an IPv4 block matches a peer that reached a dual-stack socket over IPv4.
public struct IPNetwork: Hashable, Sendable, CustomStringConvertible {
    /// The first address of the block.
    public let address: IPAddress
    /// The prefix length in the 128-bit space (an IPv4 `/8` is 104).
    public let prefixLength: Int

    /// Parses `address` or `address/length` strictly: the address as ``IPAddress/init(_:)``
    /// takes it, the length a decimal number without leading zeros (0–32 for IPv4, 0–128
    /// for IPv6), and no bits set after the prefix (`10.0.0.1/8` is refused rather than
    /// read as `10.0.0.0/8`: one of the two numbers is a typo).
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = IPAddress(parts[0]) else { return nil }
        let width = address.isV4 ? 32 : 128
        var length = width
        if parts.count == 2 {
            let digits = parts[1]
            guard (1...3).contains(digits.utf8.count),
                digits.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
                digits.utf8.count == 1 || digits.utf8.first != UInt8(ascii: "0"),
                let value = Int(digits), value <= width
            else { return nil }
            length = value
        }
        let prefixLength = length + (128 - width)
        guard address.masked(to: prefixLength) == address else { return nil }
        self.address = address
        self.prefixLength = prefixLength
    }

    /// Whether `candidate` lies in the block.
    public func contains(_ candidate: IPAddress) -> Bool {
        candidate.masked(to: prefixLength) == address
    }

    public var description: String {
        address.isV4 && prefixLength >= 96
            ? "\(address)/\(prefixLength - 96)" : "\(address)/\(prefixLength)"
    }
}
