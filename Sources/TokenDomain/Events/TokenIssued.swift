/// `token-issued.v1`: a login token was minted. Holds the hash, never the secret.
///
/// The expiry is resolved at issue (duration, default and operator cap applied) and stored,
/// so validity later is a pure function of the state and an instant.
public struct TokenIssued: Hashable, Sendable {
    /// The instance's next serial.
    public var serial: TokenSerial
    public var hash: TokenHash
    /// The base scope as requested.
    public var scope: Scope
    public var refreshable: Bool
    /// The issue instant (µs since the epoch).
    public var issuedAt: Int64
    public var expiry: TokenExpiry
    public var description: String?
    public var origin: TokenOrigin

    public init(
        serial: TokenSerial, hash: TokenHash, scope: Scope, refreshable: Bool, issuedAt: Int64,
        expiry: TokenExpiry, description: String?, origin: TokenOrigin
    ) {
        self.serial = serial
        self.hash = hash
        self.scope = scope
        self.refreshable = refreshable
        self.issuedAt = issuedAt
        self.expiry = expiry
        self.description = description
        self.origin = origin
    }

    /// Scope and flag as the response's `scope` field shows them.
    public var tokenScope: TokenScope { TokenScope(scope, refreshable: refreshable) }
}
