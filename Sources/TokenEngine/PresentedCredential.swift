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

    /// What checking a credential costs.
    public enum Check: Sendable, Equatable {
        /// Nothing is presented.
        case nothing
        /// A lookup of a login token's hash in the committed state: microseconds.
        case tokenLookup
        /// A password KDF run (~55 ms of a KDF thread) unless the credential cache knows it.
        case passwordHash
    }

    /// How ``TokenEngine/authenticate(_:instance:allowBasic:)`` checks it: `secret-token:`
    /// followed by a login token's shape (52 letters and digits,
    /// ``LoginToken/hasTokenShape(_:)``, whether or not it decodes) is looked up as a token and
    /// never tried as a password (spec §10.10); any other `secret-token:` text and every
    /// `Basic` credential is a password.
    public var check: Check {
        switch self {
        case .none: .nothing
        case .basic: .passwordHash
        case .secretToken(let text): LoginToken.hasTokenShape(text) ? .tokenLookup : .passwordHash
        }
    }
}

/// The hash of `text` (what followed `secret-token:`) when it has a login token's shape.
func loginTokenHash(_ text: String) -> TokenHash? {
    LoginTokenSecret.hash(ofPresented: LoginToken.prefix + text)
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
