import Testing

@testable import TokenDomain

/// The forward-auth decision (spec §9): every row of the spec's table for every scope, the
/// fail-closed rule, the instance rules and the order of checks.
@Suite("Forward-auth decisions (spec §9)")
struct ForwardAuthTests {
    typealias Access = MerchantEndpoint.Access
    static let shop = InstanceID("shop1")!

    /// Spec §9's table, transcribed row by row from the spec (not from the code): a request
    /// for each endpoint it names, what it needs and who answers it.
    static let spec: [(String, String, Access, MerchantEndpoint.Server)] = [
        ("POST", "/private/orders", .permission(.ordersWrite), .merchant),
        ("PATCH", "/private/orders/2024.001-X7/forget", .permission(.ordersWrite), .merchant),
        ("DELETE", "/private/orders/2024.001-X7", .permission(.ordersWrite), .merchant),
        ("GET", "/private/orders", .permission(.ordersRead), .merchant),
        ("GET", "/private/orders/2024.001-X7", .permission(.ordersRead), .merchant),
        ("HEAD", "/private/orders/2024.001-X7", .permission(.ordersRead), .merchant),
        ("POST", "/private/orders/2024.001-X7/refund", .permission(.ordersRefund), .merchant),
        ("POST", "/private/products/beer/lock", .permission(.inventoryLock), .merchant),
        ("GET", "/private/products", .permission(.productsRead), .merchant),
        ("GET", "/private/products/beer", .permission(.productsRead), .merchant),
        ("GET", "/private/pos", .permission(.productsRead), .merchant),
        ("POST", "/private/products", .permission(.productsWrite), .merchant),
        ("PATCH", "/private/products/beer", .permission(.productsWrite), .merchant),
        ("DELETE", "/private/products/beer", .permission(.productsWrite), .merchant),
        ("GET", "/private/categories", .permission(.categoriesRead), .merchant),
        ("GET", "/private/categories/7", .permission(.categoriesRead), .merchant),
        ("POST", "/private/categories", .permission(.categoriesWrite), .merchant),
        ("PATCH", "/private/categories/7", .permission(.categoriesWrite), .merchant),
        ("DELETE", "/private/categories/7", .permission(.categoriesWrite), .merchant),
        ("GET", "/private/accounts", .permission(.accountsRead), .merchant),
        ("GET", "/private/accounts/8ZT0", .permission(.accountsRead), .merchant),
        ("POST", "/private/accounts/8ZT0/kycauth", .permission(.accountsRead), .merchant),
        ("POST", "/private/accounts", .permission(.accountsWrite), .merchant),
        ("PATCH", "/private/accounts/8ZT0", .permission(.accountsWrite), .merchant),
        ("DELETE", "/private/accounts/8ZT0", .permission(.accountsWrite), .merchant),
        ("GET", "/private/transfers", .permission(.transfersRead), .merchant),
        ("GET", "/private/incoming", .permission(.transfersRead), .merchant),
        ("POST", "/private/transfers", .permission(.transfersWrite), .merchant),
        ("DELETE", "/private/transfers/42", .permission(.transfersWrite), .merchant),
        ("GET", "/private/templates", .permission(.templatesRead), .merchant),
        ("GET", "/private/templates/coffee", .permission(.templatesRead), .merchant),
        ("POST", "/private/templates", .permission(.templatesWrite), .merchant),
        ("PATCH", "/private/templates/coffee", .permission(.templatesWrite), .merchant),
        ("DELETE", "/private/templates/coffee", .permission(.templatesWrite), .merchant),
        ("GET", "/private/otp-devices", .permission(.otpDevicesRead), .merchant),
        ("GET", "/private/otp-devices/till-1", .permission(.otpDevicesRead), .merchant),
        ("POST", "/private/otp-devices", .permission(.otpDevicesWrite), .merchant),
        ("PATCH", "/private/otp-devices/till-1", .permission(.otpDevicesWrite), .merchant),
        ("DELETE", "/private/otp-devices/till-1", .permission(.otpDevicesWrite), .merchant),
        ("GET", "/private/webhooks", .permission(.webhooksRead), .merchant),
        ("GET", "/private/webhooks/paid", .permission(.webhooksRead), .merchant),
        ("POST", "/private/webhooks", .permission(.webhooksWrite), .merchant),
        ("PATCH", "/private/webhooks/paid", .permission(.webhooksWrite), .merchant),
        ("DELETE", "/private/webhooks/paid", .permission(.webhooksWrite), .merchant),
        ("GET", "/private/tokenfamilies", .permission(.tokenFamiliesRead), .merchant),
        ("GET", "/private/tokenfamilies/club", .permission(.tokenFamiliesRead), .merchant),
        ("POST", "/private/tokenfamilies", .permission(.tokenFamiliesWrite), .merchant),
        ("PATCH", "/private/tokenfamilies/club", .permission(.tokenFamiliesWrite), .merchant),
        ("DELETE", "/private/tokenfamilies/club", .permission(.tokenFamiliesWrite), .merchant),
        ("POST", "/private/notifications", .permission(.notificationsWrite), .merchant),
        ("GET", "/private/kyc", .permission(.instancesKYCRead), .merchant),
        ("GET", "/management/instances/shop1/kyc", .permission(.instancesKYCRead), .merchant),
        ("GET", "/private/statistics-amount/sales", .permission(.statisticsRead), .merchant),
        ("GET", "/private/statistics-counter/orders", .permission(.statisticsRead), .merchant),
        ("GET", "/private", .permission(.instancesRead), .tallystick),
        ("GET", "/management/instances", .permission(.instancesRead), .tallystick),
        ("GET", "/management/instances/shop1", .permission(.instancesRead), .tallystick),
        ("PATCH", "/private", .permission(.instancesWrite), .tallystick),
        ("PATCH", "/management/instances/shop1", .permission(.instancesWrite), .tallystick),
        ("DELETE", "/private", .permission(.instancesWrite), .tallystick),
        ("DELETE", "/management/instances/shop1", .permission(.instancesWrite), .tallystick),
        ("POST", "/management/instances", .permission(.instancesWrite), .tallystick),
        ("POST", "/private/auth", .permission(.instancesAuthWrite), .tallystick),
        (
            "POST", "/management/instances/shop1/auth", .permission(.instancesAuthWrite),
            .tallystick
        ),
        ("GET", "/private/tokens", .permission(.tokensRead), .tallystick),
        ("DELETE", "/private/tokens/3", .permission(.tokensWrite), .tallystick),
        ("POST", "/private/token", .login, .tallystick),
        ("DELETE", "/private/token", .anyValidToken, .tallystick),
        ("GET", "/config", .public, .tallystick),
        ("GET", "/orders/2024.001-X7", .public, .merchant),
        ("POST", "/orders/2024.001-X7/claim", .public, .merchant),
        ("POST", "/orders/2024.001-X7/pay", .public, .merchant),
        ("GET", "/templates/coffee", .public, .merchant),
        ("POST", "/templates/coffee", .public, .merchant),
        ("POST", "/challenge/17", .public, .tallystickOrMerchant),
        ("POST", "/challenge/17/confirm", .public, .tallystickOrMerchant),
        ("POST", "/instances/shop1/forgot-password", .public, .merchant),
        ("POST", "/instances", .public, .merchant),
        ("GET", "/webui", .public, .merchant),
        ("GET", "/webui/index.html", .public, .merchant),
        ("GET", "/terms", .public, .merchant),
        ("GET", "/privacy", .public, .merchant),
    ]

    static func request(_ method: String, _ target: String) throws -> ForwardRequest {
        try ForwardRequest(method: #require(RequestMethod(method)), target: target)
    }

    @Test("each request of the spec's table meets its row", arguments: spec)
    func specRow(method: String, target: String, access: Access, server: MerchantEndpoint.Server)
        throws
    {
        let request = try Self.request(method, target)
        let row = try #require(request.endpoint)
        #expect(request.access == access)
        #expect(row.access == access)
        #expect(request.servedBy == server)
        #expect(request.needsCredential == (server == .merchant && access != .public))
        let management = target.hasPrefix("/management/")
        let expectedInstance = target.hasPrefix("/instances/shop1") ? Self.shop : .admin
        #expect(request.instance == expectedInstance)
        // The same request under the root instance's prefix is the same request.
        if !target.hasPrefix("/instances/") {
            #expect(try Self.request(method, "/instances/admin" + target) == request)
        }
        // Under another instance's prefix: the same row for that instance, or none for the
        // rows only the root has.
        guard !target.hasPrefix("/instances") else { return }
        let prefixed = try Self.request(method, "/instances/shop1" + target)
        if row.prefixed {
            #expect(prefixed.endpoint == row)
            #expect(prefixed.instance == Self.shop)
        } else {
            #expect(prefixed.endpoint == nil)
            #expect(prefixed.access == (management ? .scopeAll : .public))
            #expect(prefixed.instance == (management ? .admin : Self.shop))
        }
    }

    /// The rows the merchant answers with a permission, for the scope matrix.
    static let guarded = spec.compactMap { method, target, access, server in
        if case .permission(let permission) = access, server == .merchant {
            return (method, target, permission)
        }
        return nil
    }

    /// Every guarded row × every scope (with and without `:refreshable`), at the root and
    /// under an instance prefix: allowed exactly when the scope's expected permissions
    /// (``ScopeTests/table``, written out there) hold the row's permission.
    @Test(
        "rows × scopes", arguments: guarded.map { "\($0.0) \($0.1)" }, ScopeTests.table.map(\.0))
    func rowForScope(line: String, scope: Scope) throws {
        let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
        let (method, target) = (parts[0], parts[1])
        let permission = try #require(Self.guarded.first { $0.0 == method && $0.1 == target }?.2)
        let expected = try #require(ScopeTests.table.first { $0.0 == scope }?.1)
        var targets = [target]
        if !target.hasPrefix("/management/") { targets.append("/instances/shop1" + target) }
        for target in targets {
            let request = try Self.request(method, target)
            for refreshable in [false, true] {
                let decision = ForwardAuth.decide(
                    request, instance: .active,
                    credential: .valid(
                        instance: request.instance,
                        permissions: scope.permissions(refreshable: refreshable)))
                if expected.contains(permission) {
                    #expect(
                        decision
                            == .allow(
                                instance: request.instance, required: PermissionSet(permission)),
                        "\(scope) \(method) \(target)")
                } else {
                    #expect(
                        decision
                            == .deny(.permissionInsufficient(missing: PermissionSet(permission))),
                        "\(scope) \(method) \(target)")
                }
            }
        }
    }

    /// The §9 Decisions, one by one, with the scopes they are about.
    static let decisions: [(String, String, String, Bool)] = [
        // readonly is every *-read whatever the method: the kycauth POST passes.
        ("readonly", "POST", "/private/accounts/8ZT0/kycauth", true),
        ("readonly", "GET", "/private/statistics-amount/sales", true),
        ("readonly", "GET", "/management/instances/shop1/kyc", true),
        ("readonly", "POST", "/private/accounts", false),
        ("readonly", "POST", "/private/products/beer/lock", false),
        // The lock endpoint needs inventory-lock: the scopes with it pass.
        ("order-pos", "POST", "/private/products/beer/lock", true),
        ("order-full", "POST", "/private/products/beer/lock", true),
        ("order-mgmt", "POST", "/private/products/beer/lock", false),
        // order-pos reads products: GET /private/pos works at a point of sale.
        ("order-pos", "GET", "/private/pos", true),
        ("order-pos", "GET", "/private/products/beer", true),
        ("order-pos", "PATCH", "/private/products/beer", false),
        ("order-simple", "GET", "/private/pos", false),
        // Order deletion needs orders-write.
        ("order-simple", "DELETE", "/private/orders/2024.001-X7", true),
        ("readonly", "DELETE", "/private/orders/2024.001-X7", false),
        ("order-mgmt", "POST", "/private/orders/2024.001-X7/refund", true),
        ("order-pos", "POST", "/private/orders/2024.001-X7/refund", false),
        // HEAD is GET.
        ("readonly", "HEAD", "/private/orders", true),
        ("order-simple", "HEAD", "/private/categories", false),
        // "Other methods" is every method but GET (and HEAD), PUT included.
        ("readonly", "PUT", "/private/templates/coffee", false),
        ("all", "PUT", "/private/templates/coffee", true),
    ]

    @Test("the §9 Decisions", arguments: decisions)
    func decision(scope: String, method: String, target: String, allowed: Bool) throws {
        let request = try Self.request(method, target)
        let permissions = try #require(TokenScope(wire: scope)).permissions
        let decision = ForwardAuth.decide(
            request, instance: .active,
            credential: .valid(instance: request.instance, permissions: permissions))
        if case .allow = decision { #expect(allowed) } else { #expect(!allowed, "\(decision)") }
    }

    /// Instance PATCH needs instances-write (and is Tallystick's own).
    @Test func instancePatchNeedsInstancesWrite() throws {
        for target in ["/private", "/instances/shop1/private", "/management/instances/shop1"] {
            let request = try Self.request("PATCH", target)
            #expect(request.access == .permission(.instancesWrite))
            #expect(request.servedBy == .tallystick)
        }
    }

    // MARK: fail closed

    /// `/private` and `/management` requests in no row, and the instance whose `all` token
    /// they need.
    static let unlisted: [(String, String, InstanceID)] = [
        ("GET", "/private/unknown", .admin),
        ("GET", "/private/orders/2024.001-X7/wire", .admin),
        ("POST", "/private/orders/2024.001-X7", .admin),
        ("PUT", "/private/orders", .admin),
        ("PATCH", "/private/orders", .admin),
        ("OPTIONS", "/private/orders", .admin),
        ("get", "/private/orders", .admin),
        ("POST", "/private/pos", .admin),
        ("GET", "/private/products/beer/lock", .admin),
        ("PUT", "/private/tokens", .admin),
        ("GET", "/private/orders%3F", .admin),
        ("GET", "/instances/shop1/private/unknown", shop),
        ("DELETE", "/instances/shop1/private/products", shop),
        ("GET", "/management", .admin),
        ("GET", "/management/instances/shop1/statistics-amount/sales", .admin),
        ("PUT", "/management/instances", .admin),
        ("GET", "/instances/shop1/management/instances", .admin),
        ("GET", "/instances/shop1/management/instances/shop1/kyc", .admin),
    ]

    @Test("fail closed: in no row under /private or /management, scope all", arguments: unlisted)
    func failClosed(method: String, target: String, instance: InstanceID) throws {
        let request = try Self.request(method, target)
        #expect(request.endpoint == nil)
        #expect(request.access == .scopeAll)
        #expect(request.instance == instance)
        #expect(request.needsCredential)
        let all = Scope.all.permissions(refreshable: false)
        for wire in ["all", "write", "all:refreshable", "write:refreshable"] {
            let permissions = try #require(TokenScope(wire: wire)).permissions
            let decision = ForwardAuth.decide(
                request, instance: .active,
                credential: .valid(instance: instance, permissions: permissions))
            #expect(decision == .allow(instance: instance, required: all), "\(wire)")
        }
        let password = ForwardAuth.decide(
            request, instance: .active,
            credential: .valid(instance: instance, permissions: .everyPermission))
        #expect(password == .allow(instance: instance, required: all))
        for scope in [Scope.readonly, .orderSimple, .orderPos, .orderMgmt, .orderFull] {
            let held = scope.permissions(refreshable: true)
            let decision = ForwardAuth.decide(
                request, instance: .active,
                credential: .valid(instance: instance, permissions: held))
            #expect(
                decision == .deny(.permissionInsufficient(missing: all.subtracting(held))),
                "\(scope)")
        }
    }

    /// Requests outside `/private` and `/management` in no row pass with no backend
    /// credential: the merchant answers them as it answers anyone.
    static let outside: [(String, String)] = [
        ("GET", "/"),
        ("GET", "/agpl"),
        ("GET", "/instances/shop1"),
        ("GET", "/sessions/abc"),
        ("DELETE", "/orders"),
        ("GET", "/instances/shop1/config"),
        ("GET", "/privateer"),
        ("GET", "/private%41"),
        ("GET", "/instances/shop1/instances/shop2/private/orders"),
        ("GET", "/instances/admin/instances/shop2/private/orders"),
    ]

    @Test("outside /private and /management: public", arguments: outside)
    func outsideIsPublic(method: String, target: String) throws {
        let request = try Self.request(method, target)
        #expect(request.access == .public)
        #expect(!request.needsCredential)
        #expect(
            ForwardAuth.decide(request, instance: nil, credential: .invalid)
                == .pass(.publicEndpoint))
    }

    // MARK: instances, credentials and the order of checks

    typealias Case = (
        String, String, String, InstanceLifecycle?, ForwardCredential, ForwardAuthDecision
    )

    static let everything = PermissionSet.everyPermission

    static let order: [Case] = [
        (
            "Tallystick's own endpoint, before anything", "POST",
            "/instances/nowhere/private/token",
            nil, .invalid, .pass(.servedByTallystick)
        ),
        (
            "Tallystick's own endpoint, no credential", "GET", "/private/tokens", .active, .absent,
            .pass(.servedByTallystick)
        ),
        (
            "public, an unknown instance and a bad credential", "POST",
            "/instances/nowhere/orders/1/pay", nil, .invalid, .pass(.publicEndpoint)
        ),
        (
            "public challenge, whoever answers it", "POST", "/challenge/17", .active, .absent,
            .pass(.publicEndpoint)
        ),
        (
            "unknown instance before the credential", "GET", "/instances/nowhere/private/orders",
            nil, .valid(instance: InstanceID("nowhere")!, permissions: everything),
            .deny(.instanceUnknown)
        ),
        (
            "deleted instance", "GET", "/instances/shop1/private/orders", .deleted(at: 5),
            .valid(instance: shop, permissions: everything), .deny(.instanceDeleted)
        ),
        (
            "deleted instance, no credential", "GET", "/instances/shop1/private/orders",
            .deleted(at: 5), .absent, .deny(.instanceDeleted)
        ),
        ("no credential", "GET", "/private/orders", .active, .absent, .deny(.noCredential)),
        (
            "an invalid credential", "GET", "/instances/shop1/private/orders", .active, .invalid,
            .deny(.credentialInvalid)
        ),
        (
            "another instance's credential, all permissions", "GET",
            "/instances/shop1/private/orders", .active,
            .valid(instance: .admin, permissions: everything), .deny(.otherInstance(.admin))
        ),
        (
            "instance ids are case-sensitive", "GET", "/instances/SHOP1/private/orders", .active,
            .valid(instance: shop, permissions: everything), .deny(.otherInstance(shop))
        ),
        (
            "/instances/admin is the root", "GET", "/instances/admin/private/orders", .active,
            .valid(instance: .admin, permissions: PermissionSet(.ordersRead)),
            .allow(instance: .admin, required: PermissionSet(.ordersRead))
        ),
        (
            "/management needs admin's credential", "GET", "/management/instances/shop1/kyc",
            .active, .valid(instance: shop, permissions: everything), .deny(.otherInstance(shop))
        ),
        (
            "/management with admin's readonly token", "GET", "/management/instances/shop1/kyc",
            .active, .valid(instance: .admin, permissions: .everyRead),
            .allow(instance: .admin, required: PermissionSet(.instancesKYCRead))
        ),
        (
            "missing permission", "POST", "/instances/shop1/private/orders/1/refund", .active,
            .valid(instance: shop, permissions: PermissionSet([.ordersRead, .ordersWrite])),
            .deny(.permissionInsufficient(missing: PermissionSet(.ordersRefund)))
        ),
        (
            "the query is not part of the decision", "GET",
            "/instances/shop1/private/orders?instance=admin&path=/private/tokens", .active,
            .valid(instance: shop, permissions: PermissionSet(.ordersRead)),
            .allow(instance: shop, required: PermissionSet(.ordersRead))
        ),
        (
            "%41 is decoded before matching", "GET", "/instances/shop1/priv%61te/%6Frders",
            .active, .valid(instance: shop, permissions: PermissionSet(.ordersRead)),
            .allow(instance: shop, required: PermissionSet(.ordersRead))
        ),
    ]

    @Test("order of checks", arguments: order)
    func orderOfChecks(
        name: String, method: String, target: String, instance: InstanceLifecycle?,
        credential: ForwardCredential, expected: ForwardAuthDecision
    ) throws {
        let request = try Self.request(method, target)
        #expect(
            ForwardAuth.decide(request, instance: instance, credential: credential) == expected,
            "\(name)")
    }

    static let denials: [(ForwardAuthDecision.Denial, Int, TalerErrorCode)] = [
        (.instanceUnknown, 401, .merchantGenericUnauthorized),
        (.instanceDeleted, 401, .merchantGenericUnauthorized),
        (.noCredential, 401, .merchantGenericUnauthorized),
        (.credentialInvalid, 401, .merchantGenericUnauthorized),
        (.otherInstance(shop), 403, .merchantGenericUnauthorized),
        (
            .permissionInsufficient(missing: PermissionSet(.ordersRead)), 403,
            .genericTokenPermissionInsufficient
        ),
    ]

    /// Only 401 and 403: nginx turns any other status of an `auth_request` into a 500.
    @Test("denials: status and code", arguments: denials)
    func denial(denial: ForwardAuthDecision.Denial, status: Int, code: TalerErrorCode) {
        #expect(denial.httpStatus == status)
        #expect(denial.errorCode == code)
        #expect(!denial.hint.contains("shop1"))
    }
}
