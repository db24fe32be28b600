/// One of the seven named scopes of a login token (spec §4), without the `:refreshable` flag.
///
/// The raw value is the scope's code in `token-issued.v1` and in the state digest: stored
/// forever, never renumbered. `write` is kept apart from `all` (same permissions) because the
/// response echoes the name the client asked for.
public enum Scope: UInt8, CaseIterable, Sendable, CustomStringConvertible {
    case readonly = 1
    case write = 2
    case all = 3
    case orderSimple = 4
    case orderPos = 5
    case orderMgmt = 6
    case orderFull = 7

    /// The wire name (`order-pos`, ...).
    public var name: String {
        switch self {
        case .readonly: "readonly"
        case .write: "write"
        case .all: "all"
        case .orderSimple: "order-simple"
        case .orderPos: "order-pos"
        case .orderMgmt: "order-mgmt"
        case .orderFull: "order-full"
        }
    }

    /// The scope with this exact base name (case-sensitive, no suffix), if any.
    public init?(name: some StringProtocol) {
        guard let match = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = match
    }

    /// The permissions a token of this scope carries.
    ///
    /// `token-refresh` is granted only when `refreshable` (spec §4 Decision): even `all`
    /// lacks it otherwise. `all` and `write` are every permission except `token-refresh`;
    /// `readonly` is every `*-read` permission.
    ///
    /// `order-pos` also has `products-read` (spec §9 Decision: a point of sale must list its
    /// products; without it the merchant's `GET /private/pos` is unusable), and so has
    /// `order-full`, which Taler defines as `order-pos` and `order-mgmt` combined: without it a
    /// refreshable `order-full` token could no longer mint an `order-pos` one. None of
    /// Tallystick's own endpoints needs `products-read`; it matters only in front of a merchant
    /// (``MerchantEndpoint/table``).
    public func permissions(refreshable: Bool) -> PermissionSet {
        var set = basePermissions
        if refreshable { set.insert(PermissionSet(.tokenRefresh)) }
        return set
    }

    private var basePermissions: PermissionSet {
        switch self {
        case .readonly: Self.readonlyPermissions
        case .write, .all: Self.allPermissions
        case .orderSimple: [PermissionSet(.ordersRead), PermissionSet(.ordersWrite)]
        case .orderPos:
            [
                PermissionSet(.ordersRead), PermissionSet(.ordersWrite),
                PermissionSet(.inventoryLock), PermissionSet(.productsRead),
            ]
        case .orderMgmt:
            [PermissionSet(.ordersRead), PermissionSet(.ordersWrite), PermissionSet(.ordersRefund)]
        case .orderFull:
            [
                PermissionSet(.ordersRead), PermissionSet(.ordersWrite),
                PermissionSet(.inventoryLock), PermissionSet(.productsRead),
                PermissionSet(.ordersRefund),
            ]
        }
    }

    private static let readonlyPermissions = PermissionSet.everyRead
    private static let allPermissions = PermissionSet.everyPermission.subtracting(
        PermissionSet(.tokenRefresh))

    public var description: String { name }
}
