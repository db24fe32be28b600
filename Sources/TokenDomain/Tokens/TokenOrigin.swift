/// How a login token was minted; recorded in `token-issued.v1`.
public enum TokenOrigin: Hashable, Sendable {
    /// With the instance's credentials: `basic` for `Authorization: Basic`, `false` for the
    /// legacy `Bearer secret-token:<password>` (or an instance that needs no credentials).
    case password(basic: Bool)
    /// Refreshed with the login token of serial `parent` (same instance).
    case token(parent: TokenSerial)
}
