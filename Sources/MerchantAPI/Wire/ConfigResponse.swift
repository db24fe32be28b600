import TextCoding
import TokenDomain

/// `GET /config`'s answer (spec §5, §9): who serves, which two-factor channels are
/// mandatory, and, for the SDKs, the currency with its `CurrencySpecification`, the
/// exchanges (none: Tallystick standalone knows of none), `have_donau` and
/// `payment_target_types`.
struct ConfigResponse: WireResponse {
    var name = "taler-merchant"
    /// libtool-style `current:revision:age` of the protocol.
    var version = "21:0:2"
    var implementation = "urn:net:taler:specs:taler-merchant:tallystick"
    var haveSelfProvisioning = false
    /// The channels every instance must pass when 2FA is mandatory, else none.
    var mandatoryTANChannels: [TANChannel]
    var configuration: PublicConfiguration

    func write(to w: inout JSONWriter) {
        w.beginObject()
        w.key("name")
        w.string(name)
        w.key("version")
        w.string(version)
        w.key("implementation")
        w.string(implementation)
        w.key("have_self_provisioning")
        w.bool(haveSelfProvisioning)
        w.key("mandatory_tan_channels")
        w.beginArray()
        for channel in mandatoryTANChannels { w.string(channel.wireName) }
        w.endArray()
        w.key("currency")
        w.string(configuration.currency)
        w.key("currencies")
        w.beginObject()
        w.key(configuration.currency)
        writeSpecification(to: &w)
        w.endObject()
        w.key("exchanges")
        w.beginArray()
        w.endArray()
        w.key("have_donau")
        w.bool(false)
        w.key("payment_target_types")
        w.string(configuration.paymentTargetTypes)
        w.endObject()
    }

    /// The merchant backend's `/config` answer `merchant` with `mandatory_tan_channels`
    /// replaced by Tallystick's (spec §9), every other member as it came; `nil` when it is not
    /// a JSON object.
    static func overlay(_ merchant: [UInt8], mandatoryTANChannels: [TANChannel]) -> [UInt8]? {
        guard case .object(let members)? = try? JSONValue.parse(merchant) else { return nil }
        var w = JSONWriter(capacity: merchant.count + 64)
        w.beginObject()
        for member in members where member.key != "mandatory_tan_channels" {
            w.key(member.key)
            w.value(member.value)
        }
        w.key("mandatory_tan_channels")
        w.beginArray()
        for channel in mandatoryTANChannels { w.string(channel.wireName) }
        w.endArray()
        w.endObject()
        return w.bytes
    }

    /// The `CurrencySpecification` of the currency: its name, the digits to type and to
    /// show, and its unit's symbol (`alt_unit_names` `"0"`: the code itself).
    private func writeSpecification(to w: inout JSONWriter) {
        w.beginObject()
        w.key("name")
        w.string(configuration.currency)
        w.key("currency")
        w.string(configuration.currency)
        w.key("num_fractional_input_digits")
        w.integer(configuration.fractionDigits)
        w.key("num_fractional_normal_digits")
        w.integer(configuration.fractionDigits)
        w.key("num_fractional_trailing_zero_digits")
        w.integer(configuration.fractionDigits)
        w.key("alt_unit_names")
        w.beginObject()
        w.key("0")
        w.string(configuration.currency)
        w.endObject()
        w.endObject()
    }
}
