import TextCoding
import TokenDomain

/// The body of `PATCH [/instances/$ID]/private` (spec §5): the fields present are set (JSON
/// `null` = absent = unchanged; `""` removes an address); business fields are merged member
/// by member into the stored ones.
struct InstanceReconfigurationMessage {
    var update = UpdateInstanceDetails()

    /// Reads `bytes` against the instance's stored business fields `stored` (JSON bytes).
    /// - Throws: 400, code 22 or 26.
    init(_ bytes: [UInt8], stored: [UInt8]) throws(TalerError) {
        let body = try RequestFields.object(bytes)
        if let name = try RequestFields.optionalString(body, "name") { update.name = .set(name) }
        if let email = try RequestFields.optionalString(body, "email") {
            update.email = .set(email)
        }
        if let phone = try RequestFields.optionalString(body, "phone_number") {
            update.phoneNumber = .set(phone)
        }
        let changed = BusinessFields.of(body).filter {
            if case .null = $0.value { return false }
            return true
        }
        guard !changed.isEmpty else { return }
        var merged = BusinessFields.decode(stored)
        for member in changed {
            if let at = merged.firstIndex(where: { $0.key == member.key }) {
                merged[at].value = member.value
            } else {
                merged.append(member)
            }
        }
        update.details = .set(BusinessFields.encode(merged))
    }
}
