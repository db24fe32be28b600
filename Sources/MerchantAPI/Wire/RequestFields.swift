import TextCoding
import TokenDomain

/// Reads the members of a request body (spec §2): every reader treats a JSON `null` member as
/// absent (``JSONValue/subscript(_:)`` does) and names the parameter at fault in its 400.
enum RequestFields {
    /// The body as a JSON object.
    /// - Throws: 400, code 22, when it is not JSON or not an object.
    static func object(_ bytes: [UInt8]) throws(TalerError) -> JSONValue {
        let value: JSONValue
        do { value = try JSONValue.parse(bytes) } catch { throw .jsonInvalid }
        guard case .object = value else {
            throw TalerError(.genericJSONInvalid, hint: "the body must be a JSON object")
        }
        return value
    }

    /// An optional string member.
    static func optionalString(_ body: JSONValue, _ name: String) throws(TalerError) -> String? {
        guard let value = body[name] else { return nil }
        guard case .string(let text) = value else { throw .malformed(name) }
        return text
    }

    /// A required string member (missing: 400, code 25).
    static func requiredString(_ body: JSONValue, _ name: String) throws(TalerError) -> String {
        guard let text = try optionalString(body, name) else { throw .missing(name) }
        return text
    }

    /// An optional boolean member.
    static func optionalBool(_ body: JSONValue, _ name: String) throws(TalerError) -> Bool? {
        guard let value = body[name] else { return nil }
        guard case .bool(let flag) = value else { throw .malformed(name) }
        return flag
    }

    /// `RelativeTime`: `{"d_us": 0 ... 2^53-1 | "forever"}` ("forever" in any case).
    /// - Throws: 400, code 26, parameter `name`, for anything else.
    static func relativeTime(_ value: JSONValue, parameter name: String) throws(TalerError)
        -> TokenDuration
    {
        guard case .object = value, let micros = value["d_us"] else {
            throw .malformed(name, "\(name) must be {\"d_us\": integer | \"forever\"}")
        }
        switch micros {
        case .string(let text) where text.lowercased() == "forever":
            return .forever
        case .number:
            guard let integer = micros.integer, integer >= 0,
                UInt64(integer) <= TokenDuration.maxMicros
            else {
                throw .malformed(name, "\(name).d_us must be an integer in 0 ... 2^53-1")
            }
            return .micros(UInt64(integer))
        default:
            throw .malformed(name, "\(name) must be {\"d_us\": integer | \"forever\"}")
        }
    }
}
