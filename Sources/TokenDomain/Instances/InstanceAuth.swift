/// How an instance authenticates requests.
public enum InstanceAuth: Hashable, Sendable {
    /// A password, stored as its hash (`{"method":"token"}` on the wire).
    case password(PasswordHash)
    /// No credentials needed (`{"method":"external"}`, deprecated; the reference's all-zero
    /// hash).
    case external

    /// The wire `method`: `"token"` or `"external"`.
    public var method: String {
        switch self {
        case .password: "token"
        case .external: "external"
        }
    }
}
