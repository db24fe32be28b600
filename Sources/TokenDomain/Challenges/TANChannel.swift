/// How a TAN reaches the merchant: the wire `tan_channel`. The raw value is the stored code;
/// channels are listed in raw-value order wherever order matters.
public enum TANChannel: UInt8, CaseIterable, Hashable, Sendable, Comparable {
    /// To the instance's `phone_number`, through the operator's `HELPER_SMS`.
    case sms = 1
    /// To the instance's `email`, through the operator's `HELPER_EMAIL`.
    case email = 2

    /// `"sms"` or `"email"`.
    public var wireName: String {
        switch self {
        case .sms: "sms"
        case .email: "email"
        }
    }

    public static func < (lhs: TANChannel, rhs: TANChannel) -> Bool {
        lhs.rawValue < rhs.rawValue
    }
}
