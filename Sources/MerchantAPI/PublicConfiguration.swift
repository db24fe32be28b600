/// What `GET /config` tells clients about the merchant when Tallystick answers it alone
/// (spec §9: "complete enough for the SDKs"): the currency it takes and how to show amounts.
/// The PHP SDK's factory throws without `currency`; the Python SDK also needs `exchanges`,
/// `have_donau` and `payment_target_types`.
public struct PublicConfiguration: Sendable, Equatable {
    /// The currency code, as Taler's `[taler] CURRENCY` (e.g. `EUR`, `CHF`, `KUDOS`).
    public var currency: String
    /// Fraction digits a user types and sees (`num_fractional_input_digits`,
    /// `num_fractional_normal_digits`); none of the trailing ones are left out.
    public var fractionDigits: Int
    /// The wire methods the merchant accepts, as the merchant's `payment_target_types`.
    public var paymentTargetTypes: String

    public init(
        currency: String = "KUDOS", fractionDigits: Int = 2, paymentTargetTypes: String = "*"
    ) {
        self.currency = currency
        self.fractionDigits = fractionDigits
        self.paymentTargetTypes = paymentTargetTypes
    }
}
