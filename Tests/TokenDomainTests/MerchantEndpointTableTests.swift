import Testing

@testable import TokenDomain

/// The endpoint table as data: the shape every row must have, and that the spec
/// transcription in ``ForwardAuthTests`` reaches every row.
@Suite("The merchant endpoint table")
struct MerchantEndpointTableTests {
    typealias Access = MerchantEndpoint.Access

    @Test func theSpecTranscriptionReachesEveryRow() throws {
        var reached = Set<MerchantEndpoint>()
        for (method, target, _, _) in ForwardAuthTests.spec {
            if let row = try ForwardAuthTests.request(method, target).endpoint {
                reached.insert(row)
            }
        }
        for row in MerchantEndpoint.table {
            #expect(reached.contains(row), "no spec request reaches \(row)")
        }
        #expect(Set(MerchantEndpoint.table).count == MerchantEndpoint.table.count)
    }

    /// No two rows cover the same request: probed with a request built from each row's own
    /// pattern, for every method the row covers (and a few it may).
    @Test func rowsDoNotOverlap() throws {
        let probes: [RequestMethod] = [.get, .head, .post, .put, .patch, .delete, .options]
        for row in MerchantEndpoint.table {
            var paths = ["/" + Self.concrete(row.path).joined(separator: "/")]
            if row.path.hasSuffix("/**") { paths.append(paths[0] + "/x/y") }
            for path in paths {
                let normalised = try MerchantPath(requestTarget: path)
                for method in probes where row.matches(method, normalised) {
                    let covering = MerchantEndpoint.table.filter { $0.matches(method, normalised) }
                    #expect(covering == [row], "\(method) \(path)")
                }
            }
        }
    }

    /// A row's pattern with each `{name}` filled and a final `**` dropped.
    static func concrete(_ pattern: String) -> [String] {
        pattern.split(separator: "/").compactMap { part in
            part == "**" ? nil : part.hasPrefix("{") ? "x1" : String(part)
        }
    }

    @Test func everyRowCoversSomeMethod() throws {
        for row in MerchantEndpoint.table {
            let path = try MerchantPath(
                requestTarget: "/" + Self.concrete(row.path).joined(separator: "/"))
            let methods: [RequestMethod] = [.get, .post, .patch, .delete, .put]
            #expect(methods.contains { row.matches($0, path) }, "\(row)")
        }
    }

    /// Guarded areas need a credential; everything else is public; the access kinds only
    /// Tallystick can check are Tallystick's; the fail-closed access is in no row.
    @Test func rowsHaveTheShapeOfTheirArea() {
        for row in MerchantEndpoint.table {
            let area = row.path.split(separator: "/").first.map(String.init)
            let guarded = area == "private" || area == "management"
            #expect(guarded == (row.access != .public), "\(row)")
            #expect(row.access != .scopeAll, "\(row)")
            if row.access == .login || row.access == .anyValidToken {
                #expect(row.servedBy == .tallystick, "\(row)")
            }
            if area == "management" { #expect(!row.prefixed, "\(row)") }
            if row.servedBy == .tallystickOrMerchant { #expect(row.access == .public) }
        }
    }

    /// Every permission is needed by some row (`token-refresh` by the login row).
    @Test func everyPermissionIsUsed() {
        let used = MerchantEndpoint.table.reduce(into: PermissionSet()) {
            $0.formUnion($1.access.required ?? [])
        }
        #expect(used == .everyPermission)
    }

    /// The rows marked as Tallystick's are exactly the routes Tallystick's public router
    /// serves (`MerchantAPI.table`, written out here: TokenDomain cannot see it), with
    /// `PATCH /management/instances/{instance}` added: Tallystick keeps the merchant's
    /// instances in step (spec §9), so the proxy sends instance changes to it.
    @Test func tallystickRowsAreTallysticksRoutes() {
        let own: Set<String> = [
            "GET /config", "POST [/instances/{id}]/private/token",
            "DELETE [/instances/{id}]/private/token", "GET [/instances/{id}]/private/tokens",
            "DELETE [/instances/{id}]/private/tokens/{serial}",
            "POST [/instances/{id}]/private/auth", "GET [/instances/{id}]/private",
            "PATCH, DELETE [/instances/{id}]/private", "POST /management/instances",
            "GET /management/instances", "GET /management/instances/{instance}",
            "PATCH, DELETE /management/instances/{instance}",
            "POST /management/instances/{instance}/auth",
        ]
        let marked = Set(
            MerchantEndpoint.table.filter { $0.servedBy == .tallystick }.map(\.description))
        #expect(marked == own)
        let challenges = MerchantEndpoint.table.filter { $0.servedBy == .tallystickOrMerchant }
        #expect(
            challenges.map(\.path) == ["/challenge/{challenge}", "/challenge/{challenge}/confirm"])
    }
}
