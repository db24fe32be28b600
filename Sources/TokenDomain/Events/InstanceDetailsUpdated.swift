/// `instance-details-updated.v1`: the instance's descriptive fields now have these values
/// (all of them, not a diff). A changed e-mail or phone number is no longer validated.
public struct InstanceDetailsUpdated: Hashable, Sendable {
    /// When (µs since the epoch).
    public var at: Int64
    public var name: String
    public var email: String?
    public var phoneNumber: String?
    /// Opaque JSON bytes of the business fields.
    public var details: [UInt8]

    public init(at: Int64, name: String, email: String?, phoneNumber: String?, details: [UInt8]) {
        self.at = at
        self.name = name
        self.email = email
        self.phoneNumber = phoneNumber
        self.details = details
    }
}
