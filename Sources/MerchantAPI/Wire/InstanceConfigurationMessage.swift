import TextCoding
import TokenDomain
import TokenEngine

/// The body of `POST /management/instances` (spec §5): `id`, `name`, `auth`, optional
/// `email` and `phone_number`, and the merchant's business fields, stored and returned as
/// given. The operator creates it, so the addresses count as validated (spec §10.1).
struct InstanceConfigurationMessage {
    var instance: TokenEngine.NewInstance

    /// - Throws: 400, code 22, 25 or 26 (a malformed or overlong `id`), 2601 (`auth`).
    init(_ bytes: [UInt8]) throws(TalerError) {
        let body = try RequestFields.object(bytes)
        let rawID = try RequestFields.requiredString(body, "id")
        guard let id = InstanceID(rawID) else {
            throw TalerError.malformed(
                "id",
                "the id must match ^[A-Za-z0-9][A-Za-z0-9_.@-]+$ and have at most "
                    + "\(InstanceID.maximumLength) bytes")
        }
        let name = try RequestFields.requiredString(body, "name")
        let auth = try InstanceAuthConfigurationMessage(
            body["auth"], badAuth: .merchantPrivatePostInstancesBadAuth
        ).auth
        instance = TokenEngine.NewInstance(
            id: id, name: name, auth: auth,
            email: try RequestFields.optionalString(body, "email"),
            phoneNumber: try RequestFields.optionalString(body, "phone_number"),
            details: BusinessFields.encode(BusinessFields.of(body)))
    }
}
