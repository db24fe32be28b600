/// Mint a login token (`POST .../private/token`).
///
/// The engine generated the secret and passes only its SHA-256. With password credentials
/// any scope may be minted; with a login token (refreshing) the presenting token must be
/// valid now, carry `token-refresh`, and hold every permission of the new token. Refreshing
/// does not revoke the presenting token, and the new expiry is not capped by its expiry.
public struct IssueToken: Hashable, Sendable {
    public var scope: Scope
    public var refreshable: Bool
    public var duration: TokenDuration
    public var description: String?
    /// SHA-256 of the new token's 32 secret bytes.
    public var newTokenHash: TokenHash
    public var authenticatedBy: Credential

    public init(
        scope: Scope, refreshable: Bool = false, duration: TokenDuration = .default,
        description: String? = nil, newTokenHash: TokenHash, authenticatedBy: Credential
    ) {
        self.scope = scope
        self.refreshable = refreshable
        self.duration = duration
        self.description = description
        self.newTokenHash = newTokenHash
        self.authenticatedBy = authenticatedBy
    }

    /// The same, with scope and flag from a parsed ``TokenScope``.
    public init(
        _ tokenScope: TokenScope, duration: TokenDuration = .default, description: String? = nil,
        newTokenHash: TokenHash, authenticatedBy: Credential
    ) {
        self.init(
            scope: tokenScope.scope, refreshable: tokenScope.refreshable, duration: duration,
            description: description, newTokenHash: newTokenHash, authenticatedBy: authenticatedBy)
    }
}
