/// Change an instance's descriptive fields (`PATCH .../private`).
///
/// Produces no event when nothing would change.
public struct UpdateInstanceDetails: Hashable, Sendable {
    public var name: FieldUpdate<String>
    public var email: FieldUpdate<String?>
    public var phoneNumber: FieldUpdate<String?>
    public var details: FieldUpdate<[UInt8]>

    public init(
        name: FieldUpdate<String> = .keep, email: FieldUpdate<String?> = .keep,
        phoneNumber: FieldUpdate<String?> = .keep, details: FieldUpdate<[UInt8]> = .keep
    ) {
        self.name = name
        self.email = email
        self.phoneNumber = phoneNumber
        self.details = details
    }
}
