/// An operation that two-factor authentication protects (spec §6); a challenge is bound to
/// one. The raw value is the stored code.
public enum ProtectedOperation: UInt8, CaseIterable, Hashable, Sendable {
    /// `POST .../private/token` with Basic or password credentials (not with a login token).
    case tokenIssue = 1
    /// `POST .../private/auth` and `POST /management/instances/$ID/auth`.
    case credentialChange = 2
    /// `DELETE .../private` and `DELETE /management/instances/$ID`.
    case instanceDeletion = 3
}
