extension MerchantEndpoint {
    /// The table as the Markdown document `docs/merchant-endpoints.md`, which a test keeps
    /// equal to this rendering (so the docs cannot drift from what forward-auth decides).
    public static var markdownDocument: String {
        var lines = [
            "# Merchant endpoints behind Tallystick",
            "",
            "<!-- Generated from MerchantEndpoint.table (Sources/TokenDomain/ForwardAuth); do not",
            "edit. Regenerate: TALLYSTICK_REGENERATE_DOCS=1 swift test --filter MerchantEndpointDocsTests -->",
            "",
            "What a request to the merchant backend needs to pass Tallystick's forward-auth check",
            "(spec §9), and who answers it. `[/instances/{id}]` marks paths also served under an",
            "instance's prefix (without it, the path is the `admin` instance's, as is",
            "`/instances/admin/...`); the other paths exist at the root only. `{name}` matches one",
            "path segment, a final `**` any number of further segments. `HEAD` counts as `GET`.",
            "The scopes column lists the login-token scopes whose tokens pass (the instance",
            "password passes everything); `/management/...` needs a credential of `admin`.",
            "",
            "Paths are judged after normalisation: only escapes of unreserved characters are",
            "decoded; `.` and `..` segments, empty segments (`//`, a trailing `/`), `%2F`, `%5C`",
            "and escaped control characters are refused with 400 (code 26); the query is ignored.",
            "",
            "| method | path | needs | scopes that pass | answered by |",
            "|---|---|---|---|---|",
        ]
        for row in table {
            let prefix = row.prefixed ? "[/instances/{id}]" : ""
            lines.append(
                "| \(row.methods) | `\(prefix)\(row.path)` | \(markdown(row.access)) | "
                    + "\(scopes(passing: row.access)) | \(row.servedBy) |")
        }
        lines.append(
            "| any | any other `/private/**` or `/management/**` | \(markdown(.scopeAll)) "
                + "(fail closed) | \(scopes(passing: .scopeAll)) | merchant |")
        lines.append(
            "| any | any other path | public, no backend credential | "
                + "\(scopes(passing: .public)) | merchant |")
        return lines.joined(separator: "\n") + "\n"
    }

    private static func markdown(_ access: Access) -> String {
        switch access {
        case .public: "public"
        case .permission(let permission): "`\(permission.wireName)`"
        case .anyValidToken: "any valid token"
        case .login: "`token-refresh` (Bearer); Basic or password: the login itself"
        case .scopeAll: "scope `all`"
        }
    }

    /// The scopes whose tokens carry what `access` needs, in ``Scope`` order.
    private static func scopes(passing access: Access) -> String {
        switch access {
        case .public: return "no credential needed"
        case .login: return "any `:refreshable` scope"
        case .anyValidToken, .permission, .scopeAll:
            let required = access.required ?? []
            let names = Scope.allCases.filter {
                $0.permissions(refreshable: false).isSuperset(of: required)
            }.map(\.name)
            return names.isEmpty ? "none (password only)" : names.joined(separator: ", ")
        }
    }
}
