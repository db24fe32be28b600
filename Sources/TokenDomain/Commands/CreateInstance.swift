/// Create an instance (`POST /management/instances`).
///
/// `email` and `phone_number` must pass ``ContactAddress``'s rules (an empty string is no
/// address); the phone number is stored in its E.164 form. `{"method":"external"}` needs the
/// operator's ``DecisionContext/allowExternalAuth``.
///
/// Creating an id that exists with identical data succeeds with no events (idempotent); with
/// different data it is rejected (409, code 2600). Because every password hash has a fresh
/// salt, "identical password" cannot be seen by comparing hashes: the engine verifies the
/// request's password against the existing instance's hash and reports the generation it
/// checked in ``passwordVerifiedAgainstGeneration``.
public struct CreateInstance: Hashable, Sendable {
    /// Must equal the stream's instance id (else 400, code 26, parameter `id`).
    public var id: InstanceID
    public var name: String
    /// The auth for a new instance; a malformed password hash is rejected with code 2601.
    public var auth: InstanceAuth
    public var email: String?
    public var phoneNumber: String?
    /// Opaque JSON bytes of the merchant's business fields.
    public var details: [UInt8]
    /// Set by the engine when the id already exists with a password and the request's
    /// password matched that instance's hash of this generation; `nil` otherwise.
    public var passwordVerifiedAgainstGeneration: UInt64?
    /// Whether the creator vouches for the addresses (the operator through
    /// `/management/instances`, spec §10.1): each one given is recorded validated
    /// (``InstanceAddressValidated`` with no challenge).
    public var addressesVouched: Bool

    public init(
        id: InstanceID, name: String, auth: InstanceAuth, email: String? = nil,
        phoneNumber: String? = nil, details: [UInt8] = [],
        passwordVerifiedAgainstGeneration: UInt64? = nil, addressesVouched: Bool = false
    ) {
        self.id = id
        self.name = name
        self.auth = auth
        self.email = email
        self.phoneNumber = phoneNumber
        self.details = details
        self.passwordVerifiedAgainstGeneration = passwordVerifiedAgainstGeneration
        self.addressesVouched = addressesVouched
    }
}
