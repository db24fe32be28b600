/// Replace an instance's auth (`POST .../private/auth`); bumps the credential generation.
///
/// Always produces an event, even for the same method, because a new password hash is a
/// new credential. Existing login tokens are not revoked (spec §5 Decision).
public struct ChangeCredentials: Hashable, Sendable {
    /// The new auth; a malformed password hash is rejected with code 2602.
    public var auth: InstanceAuth

    public init(auth: InstanceAuth) {
        self.auth = auth
    }
}
