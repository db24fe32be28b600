/// `instance-logins-blocked.v1`: too many failed token-issue confirmations; minting tokens
/// with the password is refused (403, code 2131) until `until`.
public struct InstanceLoginsBlocked: Hashable, Sendable {
    /// When (µs since the epoch).
    public var at: Int64
    /// The first instant logins are allowed again.
    public var until: Int64

    public init(at: Int64, until: Int64) {
        self.at = at
        self.until = until
    }
}
