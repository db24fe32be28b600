/// Change an instance's descriptive fields (`PATCH .../private`).
///
/// Produces no event when nothing would change. A new `email` or `phone_number` must pass
/// ``ContactAddress``'s rules (the phone number is stored in its E.164 form); an empty
/// string or `nil` removes it. When two-factor authentication protects the instance, or a
/// new address can be proved by a challenge, an address change is decided as a
/// ``ProtectedCommand`` (spec §10.1); decided alone, it leaves the address unvalidated.
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

extension UpdateInstanceDetails {
    /// The instance's addresses after this update, by channel: a kept one as the instance has
    /// it, a set one normalized; an empty or removed one is absent.
    ///
    /// - Throws: ``Rejection/addressUnusable(_:)`` for a set address that fails
    ///   ``ContactAddress``'s rules.
    func addresses(from state: InstanceState) throws(Rejection) -> [TANChannel: String] {
        var out: [TANChannel: String] = [:]
        for channel in TANChannel.allCases {
            switch channel == .email ? email : phoneNumber {
            case .keep:
                out[channel] = state.address(for: channel)
            case .set(let value):
                guard let value, !value.isEmpty else { continue }
                guard let normalized = ContactAddress.normalized(value, for: channel) else {
                    throw .addressUnusable(channel)
                }
                out[channel] = normalized
            }
        }
        return out
    }
}
