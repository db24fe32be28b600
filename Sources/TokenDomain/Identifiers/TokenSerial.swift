/// The serial number of a login token within its instance: 1 for the first token an instance
/// ever issues, then 2, 3, ... with no gaps (serials of revoked tokens are never reused).
///
/// Serials are what `GET /private/tokens` shows and `DELETE /private/tokens/$SERIAL` takes;
/// they are opaque to clients and never reveal the secret.
public struct TokenSerial: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let rawValue: UInt64

    public init(_ rawValue: UInt64) {
        self.rawValue = rawValue
    }

    /// The serial of an instance's first token.
    public static let first = TokenSerial(1)

    public static func < (lhs: TokenSerial, rhs: TokenSerial) -> Bool {
        lhs.rawValue < rhs.rawValue
    }

    public var description: String { String(rawValue) }
}
