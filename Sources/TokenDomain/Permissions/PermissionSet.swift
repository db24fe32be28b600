/// A set of ``Permission``s: what a credential may do.
///
/// Only set operations decide rights: "may mint" is `requested.isSubset(of: presenting)`,
/// never a comparison of numbers. The bit layout is private to the running process and is
/// never stored. One bit per ``Permission`` (its raw value): 64 bits hold 64 permissions,
/// and Taler names 29; `ScopeTests` fails when a new one would not fit.
public struct PermissionSet: OptionSet, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt64

    public init(rawValue: UInt64) {
        self.rawValue = rawValue
    }

    /// The set holding only `permission`.
    public init(_ permission: Permission) {
        self.init(rawValue: 1 << UInt64(permission.rawValue))
    }

    /// The set holding exactly `permissions`.
    public init(_ permissions: some Sequence<Permission>) {
        self.init(rawValue: permissions.reduce(0) { $0 | (1 << UInt64($1.rawValue)) })
    }

    /// Every permission there is, `token-refresh` included: what password credentials give.
    public static let everyPermission = PermissionSet(Permission.allCases)

    /// Every `*-read` permission: the `readonly` scope.
    public static let everyRead = PermissionSet(Permission.allCases.filter(\.isRead))

    /// Whether `permission` is in the set.
    public func contains(_ permission: Permission) -> Bool {
        contains(PermissionSet(permission))
    }

    /// The members in declaration order.
    public var permissions: [Permission] {
        Permission.allCases.filter { contains($0) }
    }

    /// The wire names, comma-separated, in declaration order.
    public var description: String {
        permissions.map(\.wireName).joined(separator: ",")
    }
}
