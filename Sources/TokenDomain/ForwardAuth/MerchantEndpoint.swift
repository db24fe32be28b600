/// One row of the forward-auth table (spec §9, ``table``): the requests it covers, what they
/// need, and who answers them.
///
/// Rows are data, written once in ``table``; the decision (``ForwardAuth``) and the docs
/// (``markdownDocument``) both read them. No two rows cover the same request, so their
/// order is only the order the docs show.
public struct MerchantEndpoint: Hashable, Sendable, CustomStringConvertible {
    /// The methods the row covers (`HEAD` is matched as `GET`, see ``RequestMethod``).
    public let methods: Methods
    /// The path after the optional `/instances/{id}` prefix, in OpenAPI form: `{name}`
    /// matches any one segment, a final `**` any number of further segments (none included).
    public let path: String
    /// Whether the row also covers `/instances/{id}` + ``path`` for every instance. When
    /// `false` it covers only the root instance: ``path`` itself, and
    /// `/instances/admin` + ``path``, which is the same (spec §1).
    public let prefixed: Bool
    /// What a request needs to pass.
    public let access: Access
    /// Who answers the request.
    public let servedBy: Server
    private let pattern: [Segment]

    /// Which methods a row covers.
    public enum Methods: Hashable, Sendable, CustomStringConvertible {
        /// These methods.
        case only([RequestMethod])
        /// Every method but these ("other methods" in the spec's table).
        case allBut([RequestMethod])
        /// Every method.
        case any

        /// Whether `method` is covered; compare ``RequestMethod/matchedAs``.
        func contains(_ method: RequestMethod) -> Bool {
            switch self {
            case .only(let methods): methods.contains(method)
            case .allBut(let methods): !methods.contains(method)
            case .any: true
            }
        }

        public var description: String {
            switch self {
            case .only(let methods): methods.map(\.rawValue).joined(separator: ", ")
            case .allBut(let methods):
                "any but " + methods.map(\.rawValue).joined(separator: ", ")
            case .any: "any"
            }
        }
    }

    /// What a request needs to pass.
    public enum Access: Hashable, Sendable, CustomStringConvertible {
        /// Nothing: no credential is looked at, and none is given to the merchant.
        case `public`
        /// A credential of the instance that carries this permission.
        case permission(Permission)
        /// Any login token valid now (`DELETE /private/token` revokes the one presented).
        case anyValidToken
        /// `POST /private/token`: with a Bearer token it needs `token-refresh`; with Basic or
        /// the instance password it is the login itself, which that endpoint checks.
        case login
        /// Every permission of the `all` scope (a token of scope `all` or `write`, or the
        /// instance password): the fail-closed rule for a `/private/...` or `/management/...`
        /// path in no row (spec §9). No row of ``table`` has it.
        case scopeAll

        /// The permissions a credential must hold; `nil` when no credential is needed.
        public var required: PermissionSet? {
            switch self {
            case .public: nil
            case .permission(let permission): PermissionSet(permission)
            case .anyValidToken: []
            case .login: PermissionSet(.tokenRefresh)
            case .scopeAll: Scope.all.permissions(refreshable: false)
            }
        }

        public var description: String {
            switch self {
            case .public: "public"
            case .permission(let permission): permission.wireName
            case .anyValidToken: "any valid token"
            case .login: "token-refresh with a Bearer token; with Basic or the password, the login"
            case .scopeAll: "scope all"
            }
        }
    }

    /// Who answers requests of a row.
    public enum Server: Hashable, Sendable, CustomStringConvertible {
        /// The merchant backend, through the proxy.
        case merchant
        /// Tallystick itself: the proxy routes the path to Tallystick, whose endpoint checks
        /// its own credentials (spec §5).
        case tallystick
        /// Tallystick for the ids it issued, the merchant for the others (`/challenge/{id}`:
        /// both issue challenges on the same paths, spec §9).
        case tallystickOrMerchant

        public var description: String {
            switch self {
            case .merchant: "merchant"
            case .tallystick: "Tallystick"
            case .tallystickOrMerchant: "Tallystick for its own ids, else the merchant"
            }
        }
    }

    private enum Segment: Hashable, Sendable {
        case literal(String)
        case wildcard
        case rest
    }

    /// A row; `path` as in ``path`` (a `**` anywhere but last is a programming error).
    init(
        _ methods: Methods, _ path: String, _ access: Access, servedBy: Server = .merchant,
        prefixed: Bool = true
    ) {
        self.methods = methods
        self.path = path
        self.access = access
        self.servedBy = servedBy
        self.prefixed = prefixed
        let parts = path.split(separator: "/")
        pattern = parts.enumerated().map { index, part in
            if part == "**" {
                precondition(index == parts.count - 1, "** must end a pattern: \(path)")
                return .rest
            }
            return part.hasPrefix("{") && part.hasSuffix("}") ? .wildcard : .literal(String(part))
        }
    }

    /// Whether the row covers a request with `method` (matched as ``RequestMethod/matchedAs``)
    /// to `path`.
    public func matches(_ method: RequestMethod, _ path: MerchantPath) -> Bool {
        guard prefixed || path.instance == .admin else { return false }
        guard methods.contains(method.matchedAs) else { return false }
        return Self.matches(pattern[...], path.segments[...])
    }

    private static func matches(_ pattern: ArraySlice<Segment>, _ segments: ArraySlice<String>)
        -> Bool
    {
        guard let first = pattern.first else { return segments.isEmpty }
        switch first {
        case .rest: return true
        case .wildcard:
            guard !segments.isEmpty else { return false }
        case .literal(let literal):
            guard segments.first == literal else { return false }
        }
        return matches(pattern.dropFirst(), segments.dropFirst())
    }

    /// `POST /private/orders`; the root-only rows without `[/instances/{id}]`.
    public var description: String {
        "\(methods) \(prefixed ? "[/instances/{id}]" : "")\(path)"
    }
}
