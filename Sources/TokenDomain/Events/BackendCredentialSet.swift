/// `backend-credential-set.v1`: the operator set (or rotated) the credential with which the
/// reverse proxy reaches the merchant backend for this instance (spec §9). Only its
/// fingerprint is recorded; the secret lives in a file of the data directory.
public struct BackendCredentialSet: Hashable, Sendable {
    /// When (µs since the epoch).
    public var at: Int64
    public var fingerprint: BackendCredentialFingerprint

    public init(at: Int64, fingerprint: BackendCredentialFingerprint) {
        self.at = at
        self.fingerprint = fingerprint
    }
}
