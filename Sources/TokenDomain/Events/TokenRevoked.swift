/// `token-revoked.v1`: a login token stopped working at `at`.
public struct TokenRevoked: Hashable, Sendable {
    public var serial: TokenSerial
    /// When (µs since the epoch).
    public var at: Int64
    public var reason: RevocationReason

    public init(serial: TokenSerial, at: Int64, reason: RevocationReason) {
        self.serial = serial
        self.at = at
        self.reason = reason
    }
}
