/// Why a login token was revoked; recorded in `token-revoked.v1`. The raw value is stored.
public enum RevocationReason: UInt8, Hashable, Sendable, CaseIterable {
    /// `DELETE /private/token`: the presented token revoked itself.
    case selfRevoked = 1
    /// `DELETE /private/tokens/$SERIAL`.
    case deletedBySerial = 2
}
