import TextCoding
import TokenDomain
import TokenEngine

/// How an instance authenticates (spec §5): `{"method":"token","password":...}`, the
/// deprecated `{"method":"token","token":"secret-token:..."}` (the rest after the prefix is
/// the password), or `{"method":"external"}` (no checks; the engine refuses it unless the
/// operator allows it, spec §10.2).
struct InstanceAuthConfigurationMessage {
    var auth: TokenEngine.NewAuth

    /// - Throws: `badAuth` for anything else (2601 on creation, 2602 on change).
    init(_ value: JSONValue?, badAuth: TalerErrorCode) throws(TalerError) {
        let bad = TalerError(badAuth, hint: "malformed auth configuration", parameter: "auth")
        guard let value, case .object = value, case .string(let method)? = value["method"] else {
            throw bad
        }
        switch method {
        case "external":
            auth = .external
        case "token":
            if case .string(let password)? = value["password"], !password.isEmpty {
                auth = .password(password)
            } else if case .string(let token)? = value["token"],
                token.hasPrefix(AuthorizationHeader.secretTokenPrefix),
                token.count > AuthorizationHeader.secretTokenPrefix.count
            {
                auth = .password(
                    String(token.dropFirst(AuthorizationHeader.secretTokenPrefix.count)))
            } else {
                throw bad
            }
        default:
            throw bad
        }
    }
}
