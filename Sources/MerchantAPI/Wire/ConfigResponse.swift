import TextCoding
import TokenDomain

/// `GET /config`'s answer (spec §5): who serves and which two-factor channels are mandatory.
struct ConfigResponse: WireResponse {
    var name = "taler-merchant"
    /// libtool-style `current:revision:age` of the protocol.
    var version = "21:0:2"
    var implementation = "urn:net:taler:specs:taler-merchant:tallystick"
    var haveSelfProvisioning = false
    /// The channels every instance must pass when 2FA is mandatory, else none.
    var mandatoryTANChannels: [TANChannel]

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
        w.endObject()
    }
}
