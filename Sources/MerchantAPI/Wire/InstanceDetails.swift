import TextCoding
import TokenDomain

/// One instance's details (spec §5, `GET .../private`, `GET /management/instances/$ID`):
/// `id`, `name`, `auth` (method only: never a secret), the addresses with their
/// `*_validated` flags, then the merchant's business fields as they were given.
struct InstanceDetails: WireResponse {
    var state: InstanceState

    func write(to w: inout JSONWriter) {
        w.beginObject()
        w.key("id")
        w.string(state.id.rawValue)
        w.key("name")
        w.string(state.name)
        w.key("auth")
        w.beginObject()
        w.key("method")
        w.string(state.auth.method)
        w.endObject()
        if let email = state.email {
            w.key("email")
            w.string(email)
        }
        w.key("email_validated")
        w.bool(state.emailValidated)
        if let phone = state.phoneNumber {
            w.key("phone_number")
            w.string(phone)
        }
        w.key("phone_validated")
        w.bool(state.phoneValidated)
        for member in BusinessFields.decode(state.details)
        where !BusinessFields.named.contains(member.key)
            && !["email_validated", "phone_validated"].contains(member.key)
        {
            w.key(member.key)
            w.value(member.value)
        }
        w.endObject()
    }
}
