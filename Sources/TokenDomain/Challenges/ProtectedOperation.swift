/// An operation that two-factor authentication protects (spec §6, §10.1); a challenge is
/// bound to one. The raw value is the stored code.
public enum ProtectedOperation: UInt8, CaseIterable, Hashable, Sendable {
    /// `POST .../private/token` with Basic or password credentials (not with a login token).
    case tokenIssue = 1
    /// `POST .../private/auth` and `POST /management/instances/$ID/auth`.
    case credentialChange = 2
    /// `DELETE .../private` and `DELETE /management/instances/$ID`.
    case instanceDeletion = 3
    /// `PATCH .../private` that changes or removes `email` or `phone_number`: authorised by
    /// challenges at the instance's current addresses (spec §10.1).
    case addressChange = 4
    /// The same `PATCH`, proving a new address: a challenge sent to the new address, which
    /// takes effect (validated) only when it is solved and consumed.
    case addressValidation = 5
}
