extension MerchantEndpoint {
    /// Every endpoint of spec §9's table, in its order: the one place that says which
    /// permission each merchant endpoint needs, beside the scope table (``Scope``).
    ///
    /// The §9 Decisions, encoded here: the `kycauth` POST needs `accounts-read`, so `readonly`
    /// may call it (`readonly` is every `*-read` whatever the method); the lock endpoint
    /// needs `inventory-lock` (Taler's docs also say `products-lock`); instance PATCH needs
    /// `instances-write`; order deletion needs `orders-write`. (`order-pos` reading products
    /// is the scope table's part.) Tallystick's own endpoints are rows too, marked
    /// ``Server/tallystick``, so the docs show the whole surface. A `/private/...` or
    /// `/management/...` request in no row needs ``Access/scopeAll`` (fail closed); any other
    /// request in no row passes as public, without a backend credential.
    public static let table: [MerchantEndpoint] =
        orders + catalogue + money + setup + instances
        + tokens + publicEndpoints

    private static let orders: [MerchantEndpoint] = [
        MerchantEndpoint(.only([.post]), "/private/orders", .permission(.ordersWrite)),
        MerchantEndpoint(
            .only([.patch]), "/private/orders/{order}/forget", .permission(.ordersWrite)),
        MerchantEndpoint(.only([.delete]), "/private/orders/{order}", .permission(.ordersWrite)),
        MerchantEndpoint(.only([.get]), "/private/orders", .permission(.ordersRead)),
        MerchantEndpoint(.only([.get]), "/private/orders/{order}", .permission(.ordersRead)),
        MerchantEndpoint(
            .only([.post]), "/private/orders/{order}/refund", .permission(.ordersRefund)),
    ]

    private static let catalogue: [MerchantEndpoint] =
        [
            MerchantEndpoint(
                .only([.post]), "/private/products/{product}/lock", .permission(.inventoryLock)),
            MerchantEndpoint(.only([.get]), "/private/products", .permission(.productsRead)),
            MerchantEndpoint(
                .only([.get]), "/private/products/{product}", .permission(.productsRead)),
            MerchantEndpoint(.only([.get]), "/private/pos", .permission(.productsRead)),
            MerchantEndpoint(.only([.post]), "/private/products", .permission(.productsWrite)),
            MerchantEndpoint(
                .only([.patch, .delete]), "/private/products/{product}",
                .permission(.productsWrite)),
        ] + readWrite("/private/categories", "{category}", .categoriesRead, .categoriesWrite)

    private static let money: [MerchantEndpoint] = [
        MerchantEndpoint(.only([.get]), "/private/accounts", .permission(.accountsRead)),
        MerchantEndpoint(.only([.get]), "/private/accounts/{h_wire}", .permission(.accountsRead)),
        MerchantEndpoint(
            .only([.post]), "/private/accounts/{h_wire}/kycauth", .permission(.accountsRead)),
        MerchantEndpoint(.only([.post]), "/private/accounts", .permission(.accountsWrite)),
        MerchantEndpoint(
            .only([.patch, .delete]), "/private/accounts/{h_wire}", .permission(.accountsWrite)),
        MerchantEndpoint(.only([.get]), "/private/transfers", .permission(.transfersRead)),
        MerchantEndpoint(.only([.get]), "/private/incoming", .permission(.transfersRead)),
        MerchantEndpoint(.only([.post]), "/private/transfers", .permission(.transfersWrite)),
        MerchantEndpoint(
            .only([.delete]), "/private/transfers/{transfer}", .permission(.transfersWrite)),
    ]

    private static let setup: [MerchantEndpoint] =
        readWrite("/private/templates", "{template}", .templatesRead, .templatesWrite)
        + readWrite("/private/otp-devices", "{device}", .otpDevicesRead, .otpDevicesWrite)
        + readWrite("/private/webhooks", "{webhook}", .webhooksRead, .webhooksWrite)
        + readWrite("/private/tokenfamilies", "{slug}", .tokenFamiliesRead, .tokenFamiliesWrite)
        + [
            MerchantEndpoint(
                .only([.post]), "/private/notifications", .permission(.notificationsWrite)),
            MerchantEndpoint(.only([.get]), "/private/kyc", .permission(.instancesKYCRead)),
            MerchantEndpoint(
                .only([.get]), "/management/instances/{instance}/kyc",
                .permission(.instancesKYCRead), prefixed: false),
            MerchantEndpoint(
                .only([.get]), "/private/statistics-amount/{slug}",
                .permission(.statisticsRead)),
            MerchantEndpoint(
                .only([.get]), "/private/statistics-counter/{slug}",
                .permission(.statisticsRead)),
        ]

    /// Instance details, changes and deletion: Tallystick's, which keeps the merchant's
    /// instances in step (spec §9).
    private static let instances: [MerchantEndpoint] = [
        MerchantEndpoint(
            .only([.get]), "/private", .permission(.instancesRead), servedBy: .tallystick),
        MerchantEndpoint(
            .only([.get]), "/management/instances", .permission(.instancesRead),
            servedBy: .tallystick, prefixed: false),
        MerchantEndpoint(
            .only([.get]), "/management/instances/{instance}", .permission(.instancesRead),
            servedBy: .tallystick, prefixed: false),
        MerchantEndpoint(
            .only([.patch, .delete]), "/private", .permission(.instancesWrite),
            servedBy: .tallystick),
        MerchantEndpoint(
            .only([.patch, .delete]), "/management/instances/{instance}",
            .permission(.instancesWrite), servedBy: .tallystick, prefixed: false),
        MerchantEndpoint(
            .only([.post]), "/management/instances", .permission(.instancesWrite),
            servedBy: .tallystick, prefixed: false),
        MerchantEndpoint(
            .only([.post]), "/private/auth", .permission(.instancesAuthWrite),
            servedBy: .tallystick),
        MerchantEndpoint(
            .only([.post]), "/management/instances/{instance}/auth",
            .permission(.instancesAuthWrite), servedBy: .tallystick, prefixed: false),
    ]

    private static let tokens: [MerchantEndpoint] = [
        MerchantEndpoint(
            .only([.get]), "/private/tokens", .permission(.tokensRead), servedBy: .tallystick),
        MerchantEndpoint(
            .only([.delete]), "/private/tokens/{serial}", .permission(.tokensWrite),
            servedBy: .tallystick),
        MerchantEndpoint(.only([.post]), "/private/token", .login, servedBy: .tallystick),
        MerchantEndpoint(
            .only([.delete]), "/private/token", .anyValidToken, servedBy: .tallystick),
    ]

    /// No credential: what the merchant serves to anyone (wallets, customers, browsers).
    private static let publicEndpoints: [MerchantEndpoint] = [
        MerchantEndpoint(.only([.get]), "/config", .public, servedBy: .tallystick, prefixed: false),
        MerchantEndpoint(.any, "/orders/{order}/**", .public),
        MerchantEndpoint(.any, "/templates/{template}", .public),
        MerchantEndpoint(.any, "/challenge/{challenge}", .public, servedBy: .tallystickOrMerchant),
        MerchantEndpoint(
            .any, "/challenge/{challenge}/confirm", .public, servedBy: .tallystickOrMerchant),
        MerchantEndpoint(.any, "/forgot-password", .public),
        MerchantEndpoint(.only([.post]), "/instances", .public, prefixed: false),
        MerchantEndpoint(.any, "/webui/**", .public),
        MerchantEndpoint(.any, "/terms", .public),
        MerchantEndpoint(.any, "/privacy", .public),
    ]

    /// The four rows of a collection whose `GET`s read and whose other methods write.
    private static func readWrite(
        _ collection: String, _ item: String, _ read: Permission, _ write: Permission
    ) -> [MerchantEndpoint] {
        [
            MerchantEndpoint(.only([.get]), collection, .permission(read)),
            MerchantEndpoint(.only([.get]), collection + "/" + item, .permission(read)),
            MerchantEndpoint(.allBut([.get]), collection, .permission(write)),
            MerchantEndpoint(.allBut([.get]), collection + "/" + item, .permission(write)),
        ]
    }

    /// The row covering `method` to `path`, if any (at most one does).
    public static func row(for method: RequestMethod, _ path: MerchantPath) -> MerchantEndpoint? {
        table.first { $0.matches(method, path) }
    }
}
