import TokenDomain

/// A request the end-to-end test sends for one row of ``MerchantEndpoint/table`` (spec §9):
/// a method the row covers and a concrete path for its template (after the optional
/// `/instances/$I`), with what the row says the request needs and who answers it.
struct GuardedEndpoint: Sendable, CustomStringConvertible {
    var method: String
    var path: String
    var access: MerchantEndpoint.Access
    var servedBy: MerchantEndpoint.Server
    /// Whether the row also exists under `/instances/$I` (the `/management` rows do not).
    var prefixed: Bool
    /// A valid body for the methods that take one.
    var body: String?

    var description: String { "\(method) \(path)" }

    /// Whether a token of `scope` may make this request (the row's required permissions,
    /// compared as sets: `Scope` is the domain's, the same the server decides with).
    func grants(_ scope: TokenScope) -> Bool {
        guard let required = access.required else { return true }
        return required.isSubset(of: scope.permissions)
    }

    /// Whether Tallystick's answer changes its state when allowed (the matrix sends those
    /// only with scopes that are refused; the test makes each once, allowed, at the end).
    var mutates: Bool { method != "GET" }

    /// Concrete values for the table's `{name}` segments: `{instance}` is `shop`.
    static let ids = [
        "{order}": "o1", "{product}": "p1", "{category}": "7", "{h_wire}": "H1",
        "{transfer}": "5", "{template}": "t1", "{device}": "d1", "{webhook}": "w1",
        "{slug}": "s1", "{instance}": "shop", "{serial}": "1", "{challenge}": "c1",
    ]

    /// The concrete paths for `template`: a final `**` as nothing and as one more segment.
    static func paths(for template: String) -> [String] {
        let parts = template.split(separator: "/").map { part in
            ids[String(part)] ?? String(part)
        }
        guard parts.last == "**" else { return ["/" + parts.joined(separator: "/")] }
        let base = "/" + parts.dropLast().joined(separator: "/")
        return [base, base + "/claim"]
    }

    /// The methods sent for a row: every one it names, for "every method but ..." the writing
    /// ones it does not exclude, for "any" `GET` and `POST`.
    static func methods(of methods: MerchantEndpoint.Methods) -> [String] {
        switch methods {
        case .only(let named): named.map(\.rawValue)
        case .allBut(let excluded):
            ["POST", "PUT", "PATCH", "DELETE"].filter { !excluded.contains(RequestMethod($0)!) }
        case .any: ["GET", "POST"]
        }
    }

    /// Bodies Tallystick accepts for its own endpoints (the merchant's stand-in takes `{}`).
    static func body(_ method: String, _ path: String) -> String? {
        guard method != "GET" && method != "DELETE" else { return nil }
        switch path {
        case "/private": return #"{"name":"Renamed"}"#
        case "/private/auth", "/management/instances/shop/auth":
            return #"{"method":"token","password":"never set"}"#
        case "/management/instances":
            return
                #"{"id":"never","name":"Never","auth":{"method":"token","password":"never set"}}"#
        default: return "{}"
        }
    }

    /// One request per method and concrete path of every row of the table, plus paths in no
    /// row under `/private` and `/management` (fail closed: scope `all` only).
    static let all: [GuardedEndpoint] = {
        var endpoints = [GuardedEndpoint]()
        for row in MerchantEndpoint.table {
            for method in methods(of: row.methods) {
                for path in paths(for: row.path) {
                    endpoints.append(
                        GuardedEndpoint(
                            method: method, path: path, access: row.access,
                            servedBy: row.servedBy, prefixed: row.prefixed,
                            body: body(method, path)))
                }
            }
        }
        for (method, path, prefixed) in [
            ("GET", "/private/not-in-any-row", true), ("POST", "/private/not-in-any-row/x", true),
            ("GET", "/management/not-in-any-row", false),
        ] {
            endpoints.append(
                GuardedEndpoint(
                    method: method, path: path, access: .scopeAll, servedBy: .merchant,
                    prefixed: prefixed, body: body(method, path)))
        }
        return endpoints
    }()

    /// The 14 scopes of the matrix: the seven of spec §4, each with and without
    /// `:refreshable`.
    static let scopes: [TokenScope] = Scope.allCases.flatMap {
        [TokenScope($0), TokenScope($0, refreshable: true)]
    }
}
