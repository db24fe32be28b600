/// One login token as the state holds it: everything `token-issued.v1` recorded plus the
/// revocation instant. Never the secret.
///
/// Kept small because an instance may hold a million of them (target ≤ 256 bytes resident per
/// token, including the hash index). Field order is chosen for packing: on 64-bit Linux the
/// stride is 104 bytes (32 hash + 3×8 serial/times + 16 description + 9 origin + 9 revoked-at
/// + 2 flags, padded). A description longer than 15 UTF-8 bytes adds one heap block; shorter
/// ones are stored inline. With the 8-byte index slots (``TokenHashIndex``, ≈ 17 bytes per
/// token at a million) that is ≈ 121 bytes per token before descriptions.
public struct TokenRecord: Hashable, Sendable {
    /// The SHA-256 of the secret; the key of the instance's hash index.
    public let hash: TokenHash
    /// Dense per instance: the record sits at index `serial - 1`.
    public let serial: TokenSerial
    /// The issue instant (µs since the epoch), from the event, never from a read-time clock.
    public let createdAt: Int64
    private let expiresAtRaw: Int64
    /// The optional `description` the client gave.
    public let description: String?
    /// How the token was minted.
    public let origin: TokenOrigin
    /// When the token was revoked (µs), if it was.
    public internal(set) var revokedAt: Int64?
    /// The base scope as requested (`write` stays `write`).
    public let scope: Scope
    /// Whether the token carries `token-refresh`.
    public let refreshable: Bool

    init(issued event: TokenIssued) {
        self.init(
            hash: event.hash, serial: event.serial, createdAt: event.issuedAt,
            expiry: event.expiry, description: event.description, origin: event.origin,
            revokedAt: nil, scope: event.scope, refreshable: event.refreshable)
    }

    /// A record with every field given, e.g. from a snapshot.
    @inline(__always)
    init(
        hash: TokenHash, serial: TokenSerial, createdAt: Int64, expiry: TokenExpiry,
        description: String?, origin: TokenOrigin, revokedAt: Int64?, scope: Scope,
        refreshable: Bool
    ) {
        self.hash = hash
        self.serial = serial
        self.createdAt = createdAt
        expiresAtRaw = expiry.rawValue
        self.description = description
        self.origin = origin
        self.revokedAt = revokedAt
        self.scope = scope
        self.refreshable = refreshable
    }

    /// When the token expires.
    public var expiry: TokenExpiry { TokenExpiry(rawValue: expiresAtRaw) }

    /// Scope and refreshable flag together, as the wire shows them.
    public var tokenScope: TokenScope { TokenScope(scope, refreshable: refreshable) }

    /// The token's rights, expanded from its scope.
    public var permissions: PermissionSet { scope.permissions(refreshable: refreshable) }

    /// The token's status at `now`: revoked if revoked at or before `now`, else expired if
    /// `now` has reached the expiry, else valid.
    ///
    /// Using the revocation instant (not just "was revoked") makes the status at a past
    /// instant the same whether asked of the live state or of the state folded up to then.
    public func status(at now: Int64) -> TokenStatus {
        if let revokedAt, revokedAt <= now { return .revoked }
        if now >= expiresAtRaw { return .expired }
        return .valid
    }

    /// The status `decide` and credential checks use at `now`: like ``status(at:)`` except
    /// that a revocation counts even when its recorded instant is later than `now`, so a
    /// clock stepped backwards can never revive a revoked token.
    public func liveStatus(at now: Int64) -> TokenStatus {
        if revokedAt != nil { return .revoked }
        if now >= expiresAtRaw { return .expired }
        return .valid
    }
}
