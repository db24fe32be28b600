import TextCoding

/// The merchant's business fields of an instance (`address`, `jurisdiction`, `use_stefan`,
/// default delays, ...): every member of an instance body but the ones the engine keeps as
/// named fields, stored as JSON object bytes and returned as given (spec §5).
enum BusinessFields {
    /// The members the engine keeps as named fields.
    static let named: Set<String> = ["id", "name", "auth", "email", "phone_number"]

    /// The business fields of `body`, in the order sent; of a repeated name, the last.
    static func of(_ body: JSONValue) -> [(key: String, value: JSONValue)] {
        guard case .object(let members) = body else { return [] }
        var seen = Set<String>()
        var out = [(key: String, value: JSONValue)]()
        for member in members.reversed()
        where !named.contains(member.key) && seen.insert(member.key).inserted {
            out.append(member)
        }
        return out.reversed()
    }

    /// `members` as JSON object bytes; none: no bytes.
    static func encode(_ members: [(key: String, value: JSONValue)]) -> [UInt8] {
        guard !members.isEmpty else { return [] }
        var writer = JSONWriter()
        writer.value(.object(members))
        return writer.bytes
    }

    /// The members of stored bytes (none for no bytes).
    static func decode(_ bytes: [UInt8]) -> [(key: String, value: JSONValue)] {
        guard !bytes.isEmpty, case .object(let members)? = try? JSONValue.parse(bytes) else {
            return []
        }
        return members
    }
}
