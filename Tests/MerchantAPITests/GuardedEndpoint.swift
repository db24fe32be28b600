import TokenDomain

/// One row of spec §9's endpoint table as the end-to-end test sends it: a method and a
/// concrete path (after the optional `/instances/$I`), who answers it behind the shipped
/// nginx site, and the permission it needs.
struct GuardedEndpoint: Sendable, CustomStringConvertible {
    enum Answerer: Sendable {
        /// The merchant, after Tallystick's check through `auth_request`.
        case merchant
        /// Tallystick's public listener (its own endpoints); `mutating` ones change state
        /// when allowed, so the matrix sends them only with scopes that are refused.
        case tallystick(mutating: Bool)
    }

    var method: String
    var path: String
    var answerer: Answerer
    /// The permission's wire name; `nil` for a public endpoint, `"*"` for a path in no row
    /// (fail closed: only a scope with every permission passes).
    var permission: String?
    /// A valid body for the methods that take one.
    var body: String?

    var description: String { "\(method) \(path)" }

    static func merchant(
        _ method: String, _ path: String, _ permission: String?, body: String? = nil
    ) -> GuardedEndpoint {
        GuardedEndpoint(
            method: method, path: path, answerer: .merchant, permission: permission,
            body: body ?? (method == "GET" || method == "DELETE" ? nil : "{}"))
    }

    /// The rows under `/private` (each also under `/instances/$I`), with concrete ids.
    static let instanceRows: [GuardedEndpoint] = {
        var rows: [GuardedEndpoint] = [
            .merchant("POST", "/private/orders", "orders-write"),
            .merchant("PATCH", "/private/orders/o1/forget", "orders-write"),
            .merchant("DELETE", "/private/orders/o1", "orders-write"),
            .merchant("GET", "/private/orders", "orders-read"),
            .merchant("GET", "/private/orders/o1?session_id=s", "orders-read"),
            .merchant("POST", "/private/orders/o1/refund", "orders-refund"),
            .merchant("POST", "/private/products/p1/lock", "inventory-lock"),
            .merchant("GET", "/private/products", "products-read"),
            .merchant("GET", "/private/products/p1", "products-read"),
            .merchant("GET", "/private/pos", "products-read"),
            .merchant("POST", "/private/products", "products-write"),
            .merchant("PATCH", "/private/products/p1", "products-write"),
            .merchant("DELETE", "/private/products/p1", "products-write"),
            .merchant("GET", "/private/accounts", "accounts-read"),
            .merchant("GET", "/private/accounts/H1", "accounts-read"),
            .merchant("POST", "/private/accounts/H1/kycauth", "accounts-read"),
            .merchant("POST", "/private/accounts", "accounts-write"),
            .merchant("PATCH", "/private/accounts/H1", "accounts-write"),
            .merchant("DELETE", "/private/accounts/H1", "accounts-write"),
            .merchant("GET", "/private/transfers", "transfers-read"),
            .merchant("GET", "/private/incoming", "transfers-read"),
            .merchant("POST", "/private/transfers", "transfers-write"),
            .merchant("DELETE", "/private/transfers/5", "transfers-write"),
            .merchant("POST", "/private/notifications", "notifications-write"),
            .merchant("GET", "/private/kyc", "instances-kyc-read"),
            .merchant("GET", "/private/statistics-amount/s1", "statistics-read"),
            .merchant("GET", "/private/statistics-counter/s1", "statistics-read"),
            .merchant("GET", "/private/not-in-any-row", "*"),
            .merchant("POST", "/private/not-in-any-row/x", "*"),
        ]
        // The resources whose reads need `NAME-read` and every other method `NAME-write`.
        for (resource, id, name) in [
            ("categories", "7", "categories"), ("templates", "t1", "templates"),
            ("otp-devices", "d1", "otp-devices"), ("webhooks", "w1", "webhooks"),
            ("tokenfamilies", "f1", "tokenfamilies"),
        ] {
            rows += [
                .merchant("GET", "/private/\(resource)", "\(name)-read"),
                .merchant("GET", "/private/\(resource)/\(id)", "\(name)-read"),
                .merchant("POST", "/private/\(resource)", "\(name)-write"),
                .merchant("PATCH", "/private/\(resource)/\(id)", "\(name)-write"),
                .merchant("DELETE", "/private/\(resource)/\(id)", "\(name)-write"),
            ]
        }
        rows += [
            GuardedEndpoint(
                method: "GET", path: "/private", answerer: .tallystick(mutating: false),
                permission: "instances-read"),
            GuardedEndpoint(
                method: "GET", path: "/private/tokens?limit=-2",
                answerer: .tallystick(mutating: false), permission: "tokens-read"),
            GuardedEndpoint(
                method: "PATCH", path: "/private", answerer: .tallystick(mutating: true),
                permission: "instances-write", body: #"{"name":"Renamed"}"#),
            GuardedEndpoint(
                method: "DELETE", path: "/private", answerer: .tallystick(mutating: true),
                permission: "instances-write"),
            GuardedEndpoint(
                method: "POST", path: "/private/auth", answerer: .tallystick(mutating: true),
                permission: "instances-auth-write",
                body: #"{"method":"token","password":"never set"}"#),
            GuardedEndpoint(
                method: "DELETE", path: "/private/tokens/1", answerer: .tallystick(mutating: true),
                permission: "tokens-write"),
        ]
        return rows
    }()

    /// The rows under `/management` (a token of `admin`); `$I` is `shop`.
    static let managementRows: [GuardedEndpoint] = [
        .merchant("GET", "/management/instances/shop/kyc", "instances-kyc-read"),
        GuardedEndpoint(
            method: "GET", path: "/management/instances", answerer: .tallystick(mutating: false),
            permission: "instances-read"),
        GuardedEndpoint(
            method: "GET", path: "/management/instances/shop",
            answerer: .tallystick(mutating: false), permission: "instances-read"),
        GuardedEndpoint(
            method: "POST", path: "/management/instances", answerer: .tallystick(mutating: true),
            permission: "instances-write",
            body: #"{"id":"never","name":"Never","auth":{"method":"token","password":"never set"}}"#
        ),
        GuardedEndpoint(
            method: "DELETE", path: "/management/instances/shop",
            answerer: .tallystick(mutating: true), permission: "instances-write"),
        GuardedEndpoint(
            method: "POST", path: "/management/instances/shop/auth",
            answerer: .tallystick(mutating: true), permission: "instances-auth-write",
            body: #"{"method":"token","password":"never set"}"#),
    ]

    /// Public merchant paths (no credential); those that exist only under an instance
    /// carry `/instances/shop` already.
    static let publicRows: [GuardedEndpoint] = [
        .merchant("GET", "/orders/o1", nil),
        .merchant("POST", "/orders/o1/claim", nil),
        .merchant("GET", "/instances/shop/orders/o1?token=t", nil),
        .merchant("GET", "/templates/t1", nil),
        .merchant("POST", "/instances/shop/forgot-password", nil),
        .merchant("POST", "/instances", nil),
        .merchant("GET", "/webui/index.html", nil),
        .merchant("GET", "/terms", nil),
        .merchant("GET", "/privacy", nil),
    ]

    /// Whether a token of `scope` carries `permission` (spec §4 and §9's Decisions:
    /// `readonly` is every `*-read`, `order-pos` and `order-full` also read products,
    /// `token-refresh` only with `:refreshable`, `*` only for every permission).
    static func grants(_ scope: TokenScope, _ permission: String) -> Bool {
        if permission == "token-refresh" { return scope.refreshable }
        switch scope.scope {
        case .all, .write: return true
        case .readonly: return permission.hasSuffix("-read")
        case .orderSimple: return ["orders-read", "orders-write"].contains(permission)
        case .orderPos:
            return ["orders-read", "orders-write", "inventory-lock", "products-read"]
                .contains(permission)
        case .orderMgmt:
            return ["orders-read", "orders-write", "orders-refund"].contains(permission)
        case .orderFull:
            return [
                "orders-read", "orders-write", "inventory-lock", "orders-refund",
                "products-read",
            ].contains(permission)
        }
    }

    /// The 14 scopes of the matrix: the seven of spec §4, each with and without
    /// `:refreshable`.
    static let scopes: [TokenScope] = Scope.allCases.flatMap {
        [TokenScope($0), TokenScope($0, refreshable: true)]
    }
}
