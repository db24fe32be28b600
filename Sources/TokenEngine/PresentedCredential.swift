import TokenDomain

/// What a request presented in its `Authorization` header, already split by the HTTP layer.
///
/// Holds secrets: never log it, never put it in an error. Its description hides them.
public enum PresentedCredential: Sendable, CustomStringConvertible {
    /// `Basic base64(user:password)`: only for minting tokens.
    case basic(user: String, password: String)
    /// `Bearer secret-token:...` (or a bare `secret-token:...`): a login token, or the
    /// instance password in the legacy form. The text after `secret-token:`.
    case secretToken(String)
    /// No credentials.
    case none

    public var description: String {
        switch self {
        case .basic(let user, _): "basic(\(user), ***)"
        case .secretToken: "secret-token:***"
        case .none: "none"
        }
    }
}

/// Who a request is, once its credential checked out.
public struct Principal: Sendable, Equatable {
    /// How it authenticated: a password of a credential generation, or a login token's hash.
    public var credential: Credential
    /// Its permissions when it was checked (re-checked when a command runs).
    public var permissions: PermissionSet
    /// How the password was presented (`Basic` or legacy bearer), for the token's origin.
    public var viaBasic: Bool

    /// Whether it is a login token (not the instance's own credentials).
    public var isLoginToken: Bool {
        if case .token = credential { return true }
        return false
    }
}

/// What minting a token returns: the secret, once, and what the response reports.
public struct IssuedToken: Sendable {
    /// `secret-token:` and 52 characters: returned to the client and never stored.
    public var accessToken: String
    public var serial: TokenSerial
    public var scope: TokenScope
    public var expiry: TokenExpiry
    public var issuedAt: Int64
}
