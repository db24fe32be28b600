/// What the HTTP layer found when it authenticated a forwarded request's credential against
/// ``ForwardRequest/instance``: the second input of ``ForwardAuth/decide(_:instance:credential:)``.
///
/// The HTTP layer reads the committed projection and authenticates as the merchant API does
/// (a login token by its hash, no password hash; the legacy `Bearer secret-token:<password>`
/// through the KDF); an instance without a password (``InstanceAuth/external``)
/// authenticates even an absent header, with every permission.
public enum ForwardCredential: Hashable, Sendable {
    /// Nothing was presented: no `Authorization` header, or one that does not parse.
    case absent
    /// A credential was presented and refused: an unknown, expired or revoked token, or a
    /// wrong or outdated password.
    case invalid
    /// A credential valid now for `instance`, carrying `permissions` (a token: its scope's;
    /// the instance password: every permission).
    case valid(instance: InstanceID, permissions: PermissionSet)
}
