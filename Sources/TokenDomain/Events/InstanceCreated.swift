/// `instance-created.v1`: the instance exists, with credential generation 1.
public struct InstanceCreated: Hashable, Sendable {
    /// When (µs since the epoch).
    public var at: Int64
    public var name: String
    public var auth: InstanceAuth
    public var email: String?
    public var phoneNumber: String?
    /// The merchant's business fields as opaque JSON bytes, stored and returned as given.
    public var details: [UInt8]

    public init(
        at: Int64, name: String, auth: InstanceAuth, email: String?, phoneNumber: String?,
        details: [UInt8]
    ) {
        self.at = at
        self.name = name
        self.auth = auth
        self.email = email
        self.phoneNumber = phoneNumber
        self.details = details
    }
}
