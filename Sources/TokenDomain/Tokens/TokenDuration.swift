/// How long a requested login token should live (the request's `duration`).
///
/// A zero duration is accepted, as Taler's backend accepts it: the token is issued, gets a
/// serial and an event, and is already expired at its issue instant (a token is valid only
/// while `now < expiry`), so it can never be used. Rejecting 0 would break clients written
/// against the real backend; issuing a token that lives "a little" would invent a duration
/// nobody asked for.
public enum TokenDuration: Hashable, Sendable {
    /// No duration in the request (absent or JSON `null`): ``defaultMicros``.
    case `default`
    /// `{"d_us": n}`; valid for `0 ... maxMicros`. Larger values are rejected by `decide`
    /// (400, code 26, parameter `duration`).
    case micros(UInt64)
    /// `{"d_us": "forever"}`: never expires unless the operator set a maximum.
    case forever

    /// 86,400 s, measured on a real backend (spec §5).
    public static let defaultMicros: UInt64 = 86_400_000_000

    /// 2^53 - 1, the largest `d_us` the wire type allows.
    public static let maxMicros: UInt64 = (1 << 53) - 1

    /// Whether the duration is within the wire type's range.
    public var isValid: Bool {
        if case .micros(let value) = self { return value <= Self.maxMicros }
        return true
    }

    /// The expiry of a token issued at `issuedAt` with this duration, capped by the operator
    /// maximum `cap` (which caps `forever` too).
    ///
    /// An expiry past the end of `Int64` saturates to `Int64.max - 1` (`Int64.max` is the
    /// stored sentinel for "never"); no realistic clock gets there.
    public func expiry(issuedAt: Int64, cap: UInt64?) -> TokenExpiry {
        var micros: UInt64
        switch self {
        case .default: micros = Self.defaultMicros
        case .micros(let value): micros = value
        case .forever:
            guard let cap else { return .never }
            micros = cap
        }
        if let cap { micros = min(micros, cap) }
        guard micros <= UInt64(Int64.max) else { return .at(Int64.max - 1) }
        let (sum, overflow) = issuedAt.addingReportingOverflow(Int64(micros))
        return .at(overflow || sum == Int64.max ? Int64.max - 1 : sum)
    }
}
