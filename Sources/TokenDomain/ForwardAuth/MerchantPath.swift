/// A merchant request path as forward-auth judges it: the instance it addresses and its
/// segments after the optional `/instances/{id}` prefix, normalised exactly as spec §9 says.
///
/// `/private/orders` and `/instances/admin/private/orders` are the same path (spec §1: the
/// root is the `admin` instance). Two paths that normalise alike are equal, so they meet the
/// same row of ``MerchantEndpoint/table``.
///
/// Normalisation (``init(requestTarget:)``), in this order:
/// 1. The query (from the first `?`) is dropped: it never takes part in the decision.
/// 2. The path must begin with `/` and have at most ``maximumLength`` bytes.
/// 3. It is split at every `/`. `/` alone is the root (no segments); any other empty
///    segment is refused, so `//` and a trailing `/` are refused, not normalised (the
///    merchant might read `/private/orders/` as an order with an empty id).
/// 4. In each segment, a percent-escape of an unreserved character (`A-Z a-z 0-9 - . _ ~`)
///    is decoded (`%41` → `A`), as the merchant decodes it; `%2F` and `%5C` (a separator
///    once decoded) and escapes of control characters are refused; every other escape is
///    kept as it is (`%3A` stays `%3A`), so it can meet only a `{name}` wildcard and never
///    becomes a `/`. A raw byte that no URI path holds is refused.
/// 5. A segment that is `.` or `..` after decoding is refused (`%2e%2e` included).
/// 6. A first segment `instances` followed by another names the instance: that segment must
///    be an ``InstanceID`` exactly (case-sensitive, no escapes left); the rest is the path.
///    Otherwise the instance is `admin`. The prefix is taken once: in
///    `/instances/a/instances/b/...` the path of `a` is `/instances/b/...`.
public struct MerchantPath: Hashable, Sendable, CustomStringConvertible {
    /// The instance the path addresses: `{id}` of `/instances/{id}/...`, else `admin`.
    public let instance: InstanceID
    /// The segments after the instance prefix, decoded as above; empty for the instance's
    /// root.
    public let segments: [String]

    /// The longest path judged, in bytes, before the query: 4 KiB, above any real merchant
    /// path (the longest ids are a few hundred bytes) and below nginx's default header
    /// buffer (8 KiB), so the refusal is ours and says why.
    public static let maximumLength = 4_096

    public init(instance: InstanceID, segments: [String]) {
        self.instance = instance
        self.segments = segments
    }

    /// Normalises `requestTarget`, the request's target as the proxy forwards it
    /// (`$request_uri`: path and query, not decoded).
    ///
    /// - Throws: ``MerchantPathError`` for a target that cannot be judged without guessing
    ///   (the HTTP layer answers 400, code 26).
    public init(requestTarget: some StringProtocol) throws(MerchantPathError) {
        let target = Array(requestTarget.utf8)
        let path = target.prefix { $0 != UInt8(ascii: "?") }
        guard path.count <= Self.maximumLength else { throw .tooLong }
        guard path.first == UInt8(ascii: "/") else { throw .notAbsolute }
        var segments = [String]()
        if path.count > 1 {
            for raw in path.dropFirst().split(
                separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
            {
                segments.append(try Self.segment(raw))
            }
        }
        if segments.count >= 2, segments[0] == "instances" {
            guard let id = InstanceID(segments[1]) else { throw .invalidInstance }
            self.init(instance: id, segments: Array(segments.dropFirst(2)))
        } else {
            self.init(instance: .admin, segments: segments)
        }
    }

    /// One segment, decoded as the type's doc says.
    private static func segment(_ raw: ArraySlice<UInt8>) throws(MerchantPathError) -> String {
        guard !raw.isEmpty else { throw .emptySegment }
        var out = [UInt8]()
        out.reserveCapacity(raw.count)
        var index = raw.startIndex
        while index < raw.endIndex {
            let byte = raw[index]
            guard byte == UInt8(ascii: "%") else {
                guard isPathCharacter(byte) else { throw .invalidCharacter }
                out.append(byte)
                index += 1
                continue
            }
            guard raw.endIndex - index >= 3, let high = hexValue(raw[index + 1]),
                let low = hexValue(raw[index + 2])
            else { throw .malformedEscape }
            let decoded = high << 4 | low
            if isUnreserved(decoded) {
                out.append(decoded)
            } else if decoded == UInt8(ascii: "/") || decoded == UInt8(ascii: "\\") {
                throw .encodedSeparator
            } else if decoded < 0x20 || decoded == 0x7F {
                throw .encodedControl
            } else {
                out.append(contentsOf: raw[index...(index + 2)])
            }
            index += 3
        }
        guard out != [UInt8(ascii: ".")], out != [UInt8(ascii: "."), UInt8(ascii: ".")] else {
            throw .dotSegment
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// RFC 3986 `unreserved`: `A-Z a-z 0-9 - . _ ~`.
    static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "-"), UInt8(ascii: "."),
            UInt8(ascii: "_"), UInt8(ascii: "~"):
            true
        default: false
        }
    }

    /// RFC 3986 `pchar` without `pct-encoded`: unreserved, sub-delims, `:` and `@`.
    private static func isPathCharacter(_ byte: UInt8) -> Bool {
        isUnreserved(byte) || "!$&'()*+,;=:@".utf8.contains(byte)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        default: return nil
        }
    }

    /// The canonical form: `/instances/{id}` before the segments, except for `admin` (whose
    /// prefix stays only where the rest would read as another prefix); it normalises to
    /// this path again.
    public var description: String {
        let rest = segments.map { "/" + $0 }.joined()
        let restLooksPrefixed = segments.count >= 2 && segments[0] == "instances"
        if instance == .admin, !restLooksPrefixed { return rest.isEmpty ? "/" : rest }
        return "/instances/" + instance.rawValue + rest
    }
}
