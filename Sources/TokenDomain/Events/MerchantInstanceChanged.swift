/// `merchant-instance-changed.v1`: what Tallystick did to this instance in the merchant
/// backend it keeps in step with (spec §9), and the merchant's answer. Recorded in the same
/// append as the change on Tallystick's side, so the log says both sides changed, or
/// neither. No secret: the merchant password and the backend credential never appear here
/// (the credential's fingerprint is in the ``BackendCredentialSet`` beside it).
public struct MerchantInstanceChanged: Hashable, Sendable {
    /// What was done on the merchant's side.
    public enum Action: UInt8, Sendable, CaseIterable {
        /// Created with a password only Tallystick knows (or found created by an earlier,
        /// interrupted attempt whose password it is: then the answer is the merchant's 409).
        case created = 1
        /// The business fields, name and addresses sent again after a change.
        case updated = 2
        /// Deleted (the merchant keeps it, disabled).
        case deleted = 3
        /// Purged (gone from the merchant; `404` when an earlier attempt had purged it).
        case purged = 4
        /// An existing merchant instance taken over with its staff's password.
        case adopted = 5
        /// Its merchant password replaced by one only Tallystick knows.
        case passwordRotated = 6

        /// The name in dumps and documents.
        public var name: String {
            switch self {
            case .created: "created"
            case .updated: "updated"
            case .deleted: "deleted"
            case .purged: "purged"
            case .adopted: "adopted"
            case .passwordRotated: "password-rotated"
            }
        }
    }

    /// When (µs since the epoch).
    public var at: Int64
    public var action: Action
    /// The merchant's HTTP status for the request that did it (`204`, `200`, `409`, `404`).
    public var status: Int64

    public init(at: Int64, action: Action, status: Int64) {
        self.at = at
        self.action = action
        self.status = status
    }
}
