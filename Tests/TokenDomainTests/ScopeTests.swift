import Testing

@testable import TokenDomain

@Suite("Scopes and permissions (spec §4)")
struct ScopeTests {
    static let orders: [Permission] = [.ordersRead, .ordersWrite]

    /// Every row of the spec's scope table, without and with `:refreshable`.
    static let table: [(Scope, [Permission])] = [
        (.readonly, Permission.allCases.filter { $0.wireName.hasSuffix("-read") }),
        (.write, Permission.allCases.filter { $0 != .tokenRefresh }),
        (.all, Permission.allCases.filter { $0 != .tokenRefresh }),
        (.orderSimple, [.ordersRead, .ordersWrite]),
        (.orderPos, [.ordersRead, .ordersWrite, .inventoryLock, .productsRead]),
        (.orderMgmt, [.ordersRead, .ordersWrite, .ordersRefund]),
        (.orderFull, [.ordersRead, .ordersWrite, .inventoryLock, .productsRead, .ordersRefund]),
    ]

    @Test("scope table", arguments: table)
    func scopeTable(scope: Scope, expected: [Permission]) {
        #expect(scope.permissions(refreshable: false) == PermissionSet(expected))
        #expect(scope.permissions(refreshable: true) == PermissionSet(expected + [.tokenRefresh]))
        #expect(!scope.permissions(refreshable: false).contains(.tokenRefresh))
    }

    @Test func everyScopeIsInTheTable() {
        #expect(Set(Self.table.map(\.0)) == Set(Scope.allCases))
    }

    /// Spec §9 Decision: a point of sale lists its products (`GET /private/pos`,
    /// `GET /private/products`); `order-full` stays `order-pos` and `order-mgmt` combined.
    @Test func pointOfSaleScopesReadProducts() {
        let pos = Scope.orderPos.permissions(refreshable: false)
        let mgmt = Scope.orderMgmt.permissions(refreshable: false)
        #expect(pos.contains(.productsRead))
        #expect(!pos.contains(.productsWrite))
        #expect(!Scope.orderSimple.permissions(refreshable: false).contains(.productsRead))
        #expect(!mgmt.contains(.productsRead))
        #expect(Scope.orderFull.permissions(refreshable: false) == pos.union(mgmt))
    }

    @Test func readonlyIsEveryReadAndOnlyReads() {
        let readonly = Scope.readonly.permissions(refreshable: false)
        #expect(readonly.contains(.ordersRead) && readonly.contains(.tokensRead))
        #expect(readonly.contains(.instancesRead) && readonly.contains(.productsRead))
        #expect(readonly.permissions.allSatisfy { $0.isRead })
        #expect(!readonly.contains(.ordersWrite))
    }

    @Test func allHasEverythingButTokenRefresh() {
        let all = Scope.all.permissions(refreshable: false)
        #expect(all.contains(.instancesAuthWrite) && all.contains(.tokensWrite))
        #expect(all.contains(.inventoryLock) && all.contains(.ordersRefund))
        #expect(all.union(PermissionSet(.tokenRefresh)) == .everyPermission)
        #expect(Scope.write.permissions(refreshable: true) == .everyPermission)
    }

    @Test("wire names of permissions round-trip", arguments: Permission.allCases)
    func permissionWireNames(permission: Permission) {
        #expect(Permission(wireName: permission.wireName) == permission)
    }

    @Test func permissionWireNamesAreTalers() {
        #expect(Permission.ordersRead.wireName == "orders-read")
        #expect(Permission.inventoryLock.wireName == "inventory-lock")
        #expect(Permission.instancesAuthWrite.wireName == "instances-auth-write")
        #expect(Permission.tokenRefresh.wireName == "token-refresh")
        #expect(Permission.tokenFamiliesRead.wireName == "tokenfamilies-read")
        #expect(Permission(wireName: "token-families-read") == nil)
        #expect(Permission(wireName: "Orders-Read") == nil)
    }

    /// Every permission the spec names (§4, and §9's endpoint table), spelled as Taler's
    /// API reference spells them, and no other.
    @Test func everyPermissionTheSpecNames() {
        let named: Set<String> = [
            "orders-read", "orders-write", "orders-refund", "inventory-lock",
            "tokens-read", "tokens-write", "instances-read", "instances-write",
            "instances-auth-write", "token-refresh", "products-read", "products-write",
            "categories-read", "categories-write", "otp-devices-read", "otp-devices-write",
            "templates-read", "templates-write", "tokenfamilies-read", "tokenfamilies-write",
            "transfers-read", "transfers-write", "webhooks-read", "webhooks-write",
            "accounts-read", "accounts-write", "statistics-read", "notifications-write",
            "instances-kyc-read",
        ]
        #expect(Set(Permission.allCases.map(\.wireName)) == named)
        #expect(Permission.allCases.count == named.count)
    }

    /// ``PermissionSet`` is 64 bits wide: each permission's bit must fit.
    @Test func everyPermissionFitsThePermissionSet() {
        let width = UInt8(MemoryLayout<PermissionSet.RawValue>.size * 8)
        #expect(Permission.allCases.allSatisfy { $0.rawValue < width })
        #expect(PermissionSet.everyPermission.permissions == Permission.allCases)
    }

    static let parsing: [(String, Bool?, TokenScope?)] = [
        ("readonly", nil, TokenScope(.readonly)),
        ("write", nil, TokenScope(.write)),
        ("all", nil, TokenScope(.all)),
        ("order-simple", nil, TokenScope(.orderSimple)),
        ("order-pos", nil, TokenScope(.orderPos)),
        ("order-mgmt", nil, TokenScope(.orderMgmt)),
        ("order-full", nil, TokenScope(.orderFull)),
        ("order-pos:refreshable", nil, TokenScope(.orderPos, refreshable: true)),
        ("write:refreshable", nil, TokenScope(.write, refreshable: true)),
        ("order-mgmt:refreshable", nil, TokenScope(.orderMgmt, refreshable: true)),
        ("all", true, TokenScope(.all, refreshable: true)),
        ("all", false, TokenScope(.all)),
        ("all:refreshable", false, TokenScope(.all, refreshable: true)),
        ("ALL", nil, nil),
        ("", nil, nil),
        (":refreshable", nil, nil),
        ("all:refreshable:refreshable", nil, nil),
        ("all:Refreshable", nil, nil),
        ("all ", nil, nil),
        ("*", nil, nil),
        ("orders-read", nil, nil),
    ]

    @Test("parsing the wire form", arguments: parsing)
    func parse(wire: String, flag: Bool?, expected: TokenScope?) {
        #expect(TokenScope(wire: wire, deprecatedRefreshable: flag) == expected)
    }

    static let echo: [(String, Bool?, String)] = [
        ("write", nil, "write"),
        ("write", true, "write:refreshable"),
        ("all", nil, "all"),
        ("order-pos:refreshable", nil, "order-pos:refreshable"),
        ("readonly", false, "readonly"),
    ]

    @Test("the response echoes the requested base name", arguments: echo)
    func echoes(wire: String, flag: Bool?, expected: String) {
        #expect(TokenScope(wire: wire, deprecatedRefreshable: flag)?.wireName == expected)
    }

    @Test func passwordCredentialsHaveEveryPermission() throws {
        let state = try #require(try fold([Fixture.created()]))
        let held = try state.permissions(of: Fixture.basicLogin, at: Fixture.t0)
        #expect(held == .everyPermission)
        #expect(held.contains(.tokenRefresh))
    }
}
