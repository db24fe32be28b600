/// One right a credential can carry, with its Taler wire name (`orders-read`, ...).
///
/// The names are the merchant's own ("Required permission" in Taler's API reference, e.g.
/// `tokenfamilies-read`, not `token-families-read`): the forward-auth table
/// (``MerchantEndpoint/table``) and its rendering in the docs use them.
///
/// The raw value is the bit of the permission in ``PermissionSet``; it is never stored in an
/// event (events store the ``Scope``, and a scope is expanded to permissions when it is
/// checked), so cases may be added, but a raw value must not be reused while a process runs
/// with sets built from the old numbering.
public enum Permission: UInt8, CaseIterable, Sendable, CustomStringConvertible {
    case ordersRead = 0
    case ordersWrite = 1
    case ordersRefund = 2
    case inventoryLock = 3
    case tokensRead = 4
    case tokensWrite = 5
    case instancesRead = 6
    case instancesWrite = 7
    case instancesAuthWrite = 8
    case tokenRefresh = 9
    case productsRead = 10
    case productsWrite = 11
    case categoriesRead = 12
    case categoriesWrite = 13
    case otpDevicesRead = 14
    case otpDevicesWrite = 15
    case templatesRead = 16
    case templatesWrite = 17
    case tokenFamiliesRead = 18
    case tokenFamiliesWrite = 19
    case transfersRead = 20
    case transfersWrite = 21
    case webhooksRead = 22
    case webhooksWrite = 23
    case accountsRead = 24
    case accountsWrite = 25
    case statisticsRead = 26
    case notificationsWrite = 27
    case instancesKYCRead = 28

    /// The name on the wire and in the Taler documentation.
    public var wireName: String {
        switch self {
        case .ordersRead: "orders-read"
        case .ordersWrite: "orders-write"
        case .ordersRefund: "orders-refund"
        case .inventoryLock: "inventory-lock"
        case .tokensRead: "tokens-read"
        case .tokensWrite: "tokens-write"
        case .instancesRead: "instances-read"
        case .instancesWrite: "instances-write"
        case .instancesAuthWrite: "instances-auth-write"
        case .tokenRefresh: "token-refresh"
        case .productsRead: "products-read"
        case .productsWrite: "products-write"
        case .categoriesRead: "categories-read"
        case .categoriesWrite: "categories-write"
        case .otpDevicesRead: "otp-devices-read"
        case .otpDevicesWrite: "otp-devices-write"
        case .templatesRead: "templates-read"
        case .templatesWrite: "templates-write"
        case .tokenFamiliesRead: "tokenfamilies-read"
        case .tokenFamiliesWrite: "tokenfamilies-write"
        case .transfersRead: "transfers-read"
        case .transfersWrite: "transfers-write"
        case .webhooksRead: "webhooks-read"
        case .webhooksWrite: "webhooks-write"
        case .accountsRead: "accounts-read"
        case .accountsWrite: "accounts-write"
        case .statisticsRead: "statistics-read"
        case .notificationsWrite: "notifications-write"
        case .instancesKYCRead: "instances-kyc-read"
        }
    }

    /// The permission with this exact wire name (case-sensitive), if any.
    public init?(wireName: String) {
        guard let match = Self.allCases.first(where: { $0.wireName == wireName }) else {
            return nil
        }
        self = match
    }

    /// Whether this is a `*-read` permission, the ones the `readonly` scope grants. Decided
    /// by the wire name, as the spec words it.
    public var isRead: Bool { wireName.hasSuffix("-read") }

    public var description: String { wireName }
}
