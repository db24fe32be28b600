/// The credential a request presented, as the engine verified it.
public enum Credential: Hashable, Sendable {
    /// The instance's own credentials, checked by the engine against the password hash of
    /// credential generation `credentialGeneration` (`basic` for `Authorization: Basic`,
    /// `false` for legacy `Bearer secret-token:<password>`). For an instance that needs no
    /// credentials (``InstanceAuth/external``) the engine passes the current generation.
    ///
    /// `decide` rejects a generation other than the instance's current one (401), so a
    /// password change committed between the check and the decision cannot be bypassed.
    case password(basic: Bool, credentialGeneration: UInt64)
    /// A login token, by the hash of its secret; `decide` checks that it is valid now.
    case token(TokenHash)
}
