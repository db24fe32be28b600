/// The id of one TAN challenge: the `$CHALLENGE_ID` of `/challenge/$CHALLENGE_ID` and the
/// `challenge_id` string of a `ChallengeResponse` (spec §6). Opaque to clients.
///
/// The engine makes it from fresh random bytes (``init(randomBytes:)``); ids are unique
/// within an instance. A valid id is 1 to 64 ASCII letters, digits, `-` or `_`. Ids order
/// bytewise; the digest and snapshots list challenges in that order.
public struct ChallengeID: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The id as it appears in URLs and JSON; always valid.
    public let rawValue: String

    /// The longest id accepted, in bytes.
    public static let maximumLength = 64

    /// Validates `rawValue`; `nil` when it is empty, too long or has other characters.
    public init?(_ rawValue: String) {
        guard Self.isValid(rawValue) else { return nil }
        self.rawValue = rawValue
    }

    /// The Crockford base32 text of `randomBytes` (at most 40 bytes; 16 give 26 characters).
    public init?(randomBytes: [UInt8]) {
        guard !randomBytes.isEmpty, randomBytes.count <= 40 else { return nil }
        self.init(randomBytes.withUnsafeBytes { Crockford32.encode($0) })
    }

    /// Whether `candidate` is 1 to 64 bytes of `[A-Za-z0-9_-]`.
    public static func isValid(_ candidate: String) -> Bool {
        var count = 0
        for byte in candidate.utf8 {
            let valid =
                (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
                || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
            guard valid else { return false }
            count += 1
        }
        return count >= 1 && count <= maximumLength
    }

    public static func < (lhs: ChallengeID, rhs: ChallengeID) -> Bool {
        lhs.rawValue.utf8.lexicographicallyPrecedes(rhs.rawValue.utf8)
    }

    public var description: String { rawValue }
}
