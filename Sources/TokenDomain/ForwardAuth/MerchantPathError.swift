/// Why a forwarded request target is refused instead of judged (spec §9: "refuse with 400,
/// code 26, instead of guessing"). The HTTP layer answers 400 with ``errorCode``; the
/// proxy never forwards such a request.
///
/// Never holds the path: it may carry anything a client sent.
public enum MerchantPathError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The path (before any `?`) is longer than ``MerchantPath/maximumLength`` bytes.
    case tooLong
    /// The target does not begin with `/` (empty, `*`, or absolute-form `http://...`).
    case notAbsolute
    /// An empty segment: `//`, or a trailing `/` (`/private/orders/`).
    case emptySegment
    /// A `.` or `..` segment, written plainly or percent-encoded (`%2e%2E`).
    case dotSegment
    /// `%2F` or `%5C` (`/`, `\`) inside a segment: the merchant would decode it into a
    /// separator (or a character some servers treat as one) and see other segments.
    case encodedSeparator
    /// A percent-escape of a control character (`%00`–`%1F`, `%7F`): `%00` ends the path
    /// for a C program such as the merchant.
    case encodedControl
    /// A `%` not followed by two hexadecimal digits.
    case malformedEscape
    /// A byte no URI path holds unescaped: space, `"`, `#`, `<`, `>`, `\`, `^`, `` ` ``,
    /// `{`, `|`, `}`, a control character, or any non-ASCII byte.
    case invalidCharacter
    /// `/instances/{id}/...` with an id that is not an ``InstanceID`` (after decoding, so
    /// `%40` in an id is refused rather than guessed).
    case invalidInstance

    /// The Taler error: 400, `GENERIC_PARAMETER_MALFORMED`.
    public var errorCode: TalerErrorCode { .genericParameterMalformed }

    /// A human hint for the error body; names the rule, never echoes the path.
    public var hint: String {
        switch self {
        case .tooLong: "path longer than \(MerchantPath.maximumLength) bytes"
        case .notAbsolute: "the path must begin with /"
        case .emptySegment: "empty path segment (// or a trailing /)"
        case .dotSegment: "a . or .. path segment"
        case .encodedSeparator: "%2F or %5C inside a path segment"
        case .encodedControl: "a percent-encoded control character in the path"
        case .malformedEscape: "a % not followed by two hexadecimal digits"
        case .invalidCharacter: "a character that is not allowed in a path"
        case .invalidInstance: "not a valid instance id"
        }
    }

    public var description: String { hint }
}
