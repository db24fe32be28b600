import TextCoding
import TokenDomain
import TokenEngine

/// The request and response shapes of spec §2 and §5, read from and written to JSON.
///
/// Every reader treats a JSON `null` member as absent (``JSONValue/subscript(_:)`` does) and
/// names the parameter at fault in its 400.
enum WireTypes {
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

    /// `Timestamp`: `{"t_s": seconds}` or `{"t_s": "never"}`.
    static func writeTimestamp(_ writer: inout JSONWriter, _ expiry: TokenExpiry) {
        switch expiry {
        case .never: TalerTimestamp.never.write(into: &writer)
        case .at(let micros): TalerTimestamp(micros: micros).write(into: &writer)
        }
    }

    static func writeTimestamp(_ writer: inout JSONWriter, micros: Int64) {
        TalerTimestamp(micros: micros).write(into: &writer)
    }

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

    /// `LoginTokenRequest`.
    struct LoginTokenRequest {
        var scope: TokenScope
        var duration: TokenDuration
        var description: String?

        init(_ body: JSONValue) throws(TalerError) {
            let wire = try requiredString(body, "scope")
            let refreshable = try optionalBool(body, "refreshable")
            guard let scope = TokenScope(wire: wire, deprecatedRefreshable: refreshable) else {
                throw .malformed("scope", "unknown scope")
            }
            self.scope = scope
            if let duration = body["duration"] {
                self.duration = try relativeTime(duration, parameter: "duration")
            } else {
                self.duration = .default
            }
            description = try optionalString(body, "description")
        }
    }

    /// `InstanceAuthConfigurationMessage`: `{"method":"token","password":...}`, the
    /// deprecated `{"method":"token","token":"secret-token:..."}`, or `{"method":"external"}`.
    /// - Throws: `badAuth` for anything else (2601 on creation, 2602 on change).
    static func authConfiguration(_ value: JSONValue?, badAuth: TalerErrorCode)
        throws(TalerError) -> TokenEngine.NewAuth
    {
        let bad = TalerError(badAuth, hint: "malformed auth configuration", parameter: "auth")
        guard let value, case .object = value, case .string(let method)? = value["method"] else {
            throw bad
        }
        switch method {
        case "external":
            return .external
        case "token":
            if case .string(let password)? = value["password"], !password.isEmpty {
                return .password(password)
            }
            if case .string(let token)? = value["token"],
                token.hasPrefix(AuthorizationHeader.secretTokenPrefix),
                token.count > AuthorizationHeader.secretTokenPrefix.count
            {
                return .password(
                    String(token.dropFirst(AuthorizationHeader.secretTokenPrefix.count)))
            }
            throw bad
        default:
            throw bad
        }
    }

    /// The members of an instance body that the engine keeps as named fields; the rest are
    /// the business fields, stored and returned as given.
    static let namedInstanceFields: Set<String> = ["id", "name", "auth", "email", "phone_number"]

    /// The business fields of `body` as JSON object bytes (members in the order sent).
    static func businessFields(of body: JSONValue) -> [(key: String, value: JSONValue)] {
        guard case .object(let members) = body else { return [] }
        var seen = Set<String>()
        var out = [(key: String, value: JSONValue)]()
        for member in members.reversed()
        where !namedInstanceFields.contains(member.key) && seen.insert(member.key).inserted {
            out.append(member)
        }
        return out.reversed()
    }

    static func encode(_ members: [(key: String, value: JSONValue)]) -> [UInt8] {
        guard !members.isEmpty else { return [] }
        var writer = JSONWriter()
        writer.value(.object(members))
        return writer.bytes
    }

    static func decodeDetails(_ bytes: [UInt8]) -> [(key: String, value: JSONValue)] {
        guard !bytes.isEmpty, case .object(let members)? = try? JSONValue.parse(bytes) else {
            return []
        }
        return members
    }
}
