/// The method of a request a reverse proxy asks about (`X-Original-Method`,
/// `X-Forwarded-Method`, or the request's own for Envoy).
///
/// Case-sensitive, as RFC 9110 says: `get` is not `GET`, so it matches only rows that take
/// any method or every method but `GET` (the merchant, which compares methods exactly, would
/// not serve it as `GET` either). `HEAD` is matched as `GET` (``matchedAs``): the merchant
/// answers it as `GET` without the body.
public struct RequestMethod: Hashable, Sendable, CustomStringConvertible {
    /// The method as sent: an RFC 9110 token.
    public let rawValue: String

    /// The longest method accepted, in bytes; the longest standard one has 7.
    public static let maximumLength = 32

    /// Validates `rawValue`; `nil` when it is empty, longer than ``maximumLength`` or holds a
    /// byte that is not an RFC 9110 `tchar` (the HTTP layer answers 400).
    public init?(_ rawValue: String) {
        guard !rawValue.isEmpty, rawValue.utf8.count <= Self.maximumLength,
            rawValue.utf8.allSatisfy(Self.isTokenCharacter)
        else { return nil }
        self.rawValue = rawValue
    }

    private init(unchecked rawValue: String) {
        self.rawValue = rawValue
    }

    public static let get = RequestMethod(unchecked: "GET")
    public static let head = RequestMethod(unchecked: "HEAD")
    public static let post = RequestMethod(unchecked: "POST")
    public static let put = RequestMethod(unchecked: "PUT")
    public static let patch = RequestMethod(unchecked: "PATCH")
    public static let delete = RequestMethod(unchecked: "DELETE")
    public static let options = RequestMethod(unchecked: "OPTIONS")

    /// The method the table's rows are matched with: `HEAD` as `GET`, every other as itself.
    public var matchedAs: RequestMethod { self == .head ? .get : self }

    /// `tchar`: `!#$%&'*+-.^_`|~`, digits and letters.
    private static func isTokenCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "a")...UInt8(ascii: "z"):
            true
        default: "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }

    public var description: String { rawValue }
}
