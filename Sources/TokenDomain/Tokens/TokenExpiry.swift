/// When a login token stops being valid: an instant in microseconds since the Unix epoch, or
/// never. A token is valid while `now < instant`.
///
/// Stored in events and state as one `Int64` with `Int64.max` meaning never, so `.at` never
/// holds `Int64.max`.
public enum TokenExpiry: Hashable, Sendable, Comparable {
    case at(Int64)
    case never

    /// The stored form: the instant, or `Int64.max` for never.
    public var rawValue: Int64 {
        switch self {
        case .at(let instant): min(instant, Int64.max - 1)
        case .never: Int64.max
        }
    }

    /// Reads the stored form.
    public init(rawValue: Int64) {
        self = rawValue == Int64.max ? .never : .at(rawValue)
    }

    /// Whether a token with this expiry is past it at `now`.
    public func hasPassed(at now: Int64) -> Bool {
        now >= rawValue
    }

    public static func < (lhs: TokenExpiry, rhs: TokenExpiry) -> Bool {
        lhs.rawValue < rhs.rawValue
    }
}
