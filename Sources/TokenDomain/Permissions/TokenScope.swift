/// A scope as a client requests it and a response echoes it: a base ``Scope`` plus the
/// refreshable flag (`order-pos:refreshable`).
public struct TokenScope: Hashable, Sendable, CustomStringConvertible {
    public var scope: Scope
    public var refreshable: Bool

    /// The suffix that makes any scope refreshable.
    public static let refreshableSuffix = ":refreshable"

    public init(_ scope: Scope, refreshable: Bool = false) {
        self.scope = scope
        self.refreshable = refreshable
    }

    /// Parses the wire form `name` or `name:refreshable`; `nil` for anything else (the API
    /// answers 400, code 26, parameter `scope`).
    ///
    /// Matching is exact and case-sensitive. `deprecatedRefreshable` is the old boolean
    /// `refreshable` field (absent or JSON `null` = `nil`); the token is refreshable when
    /// either the suffix or the boolean says so, so `{"scope":"all:refreshable",
    /// "refreshable":false}` is refreshable.
    public init?(wire: String, deprecatedRefreshable: Bool? = nil) {
        var base = Substring(wire)
        var refreshable = deprecatedRefreshable ?? false
        if base.hasSuffix(Self.refreshableSuffix) {
            base = base.dropLast(Self.refreshableSuffix.utf8.count)
            refreshable = true
        }
        guard let scope = Scope(name: base) else { return nil }
        self.init(scope, refreshable: refreshable)
    }

    /// The wire form: the base name as requested (`write` stays `write`), with
    /// `:refreshable` appended when refreshable.
    public var wireName: String {
        refreshable ? scope.name + Self.refreshableSuffix : scope.name
    }

    /// The permissions of a token with this scope.
    public var permissions: PermissionSet { scope.permissions(refreshable: refreshable) }

    public var description: String { wireName }
}
