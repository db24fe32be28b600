/// Revoke the login token presented with the request (`DELETE .../private/token`).
///
/// An unknown, expired or already revoked token is rejected with 401 (code 2015): it could
/// not have authenticated the request.
public struct RevokeToken: Hashable, Sendable {
    /// SHA-256 of the presented token's secret.
    public var hash: TokenHash

    public init(hash: TokenHash) {
        self.hash = hash
    }
}
