import TextCoding
import TokenDomain

/// Instances on both sides (spec §9): with a merchant backend configured, an instance
/// created, changed or deleted through Tallystick is created, changed or deleted in the
/// merchant too, through its `/management/instances` API with `admin`'s backend credential.
///
/// The rules, for every change:
/// - The merchant is asked after Tallystick's decision (a refusal or a `202` challenge never
///   reaches it) and before the append, while the instance is held, so nothing else changes
///   it in between. The append records both sides (``MerchantInstanceChanged`` beside the
///   change) or, when the merchant refused, nothing: the client gets the merchant's status
///   and Taler error, and is told success only once both sides have the change.
/// - A crash between the two sides is repaired by the same request, repeated: the merchant
///   side of each change is idempotent. A creation finds its merchant instance (`409`) and
///   proves it made it by minting with the password it derives again from the same stream
///   version; a deletion finds it gone (`404`); a change is sent again. Nothing is repaired
///   at start: only the client knows which request it meant to make.
/// - An instance takes part once it has a backend credential (created or adopted through
///   Tallystick, or set by the operator); older ones stay Tallystick's alone. `admin` is the
///   merchant's own: `tallystick upstream connect` binds it.
extension TokenEngine {
    /// Creation's merchant side: create the instance with a derived password, mint its
    /// backend token, keep it in the file. `nil` when there is no merchant side.
    func creationInMerchant(_ new: NewInstance, now: Int64) -> SideEffect? {
        guard let merchant = configuration.merchant, new.id != .admin else { return nil }
        return { [self] decided, _, version throws(EngineError) in
            guard decided.contains(where: { $0.tag == .instanceCreated }) else { return [] }
            await reach(.beforeMerchant)
            let admin = try merchantAdminCredential()
            let password = merchant.password(for: new.id, version: version)
            let status = try await merchant.createInstance(
                Self.merchantInstanceBody(
                    id: new.id, password: password, name: new.name, email: new.email,
                    phoneNumber: new.phoneNumber, details: new.details),
                admin: admin)
            guard let token = try await merchant.mintToken(new.id, password: password) else {
                throw EngineError(
                    code: .merchantPrivatePostInstancesAlreadyExists,
                    hint:
                        "the merchant backend already has an instance \(new.id) that Tallystick "
                        + "did not make; adopt it instead: tallystick upstream adopt \(new.id)")
            }
            try keepBackendCredential(token, for: new.id)
            await reach(.afterMerchant)
            return [
                .merchantInstanceChanged(
                    MerchantInstanceChanged(at: now, action: .created, status: Int64(status))),
                .backendCredentialSet(
                    BackendCredentialSet(
                        at: now, fingerprint: BackendCredentialStore.fingerprint(of: token))),
            ]
        }
    }

    /// A change's merchant side: the instance's whole reconfiguration sent again when its
    /// name, addresses or business fields changed.
    func updateInMerchant(_ instance: InstanceID, now: Int64) -> SideEffect? {
        guard let merchant = configuration.merchant else { return nil }
        return { [self] decided, before, _ throws(EngineError) in
            guard before?.backendCredential != nil,
                case .instanceDetailsUpdated(let updated)? = decided.last(where: {
                    $0.tag == .instanceDetailsUpdated
                })
            else { return [] }
            await reach(.beforeMerchant)
            let status = try await merchant.updateInstance(
                instance,
                Self.merchantInstanceBody(
                    id: nil, password: nil, name: updated.name, email: updated.email,
                    phoneNumber: updated.phoneNumber, details: updated.details),
                admin: try merchantAdminCredential())
            await reach(.afterMerchant)
            return [
                .merchantInstanceChanged(
                    MerchantInstanceChanged(at: now, action: .updated, status: Int64(status)))
            ]
        }
    }

    /// A deletion's merchant side: `DELETE /management/instances/$I`, `?purge=yes` for a
    /// purge.
    func deletionInMerchant(_ instance: InstanceID, purge: Bool, now: Int64) -> SideEffect? {
        guard let merchant = configuration.merchant, instance != .admin else { return nil }
        return { [self] decided, before, _ throws(EngineError) in
            guard before?.backendCredential != nil,
                decided.contains(where: { $0.tag == .instanceDeleted || $0.tag == .instancePurged })
            else { return [] }
            await reach(.beforeMerchant)
            let status = try await merchant.deleteInstance(
                instance, purge: purge, admin: try merchantAdminCredential())
            await reach(.afterMerchant)
            return [
                .merchantInstanceChanged(
                    MerchantInstanceChanged(
                        at: now, action: purge ? .purged : .deleted, status: Int64(status)))
            ]
        }
    }

    /// After an append that changed both sides: the last failpoint, and a purged instance's
    /// credential dropped from the file (the log no longer names it).
    func finishedInMerchant(_ instance: InstanceID, _ events: [DomainEvent]) async {
        for case .merchantInstanceChanged(let changed) in events {
            if changed.action == .purged {
                try? configuration.backendCredentials.update(instance, to: nil)
            }
            await reach(.afterAppend)
        }
    }

    // MARK: Connecting and adopting (offline: `tallystick upstream`)

    /// Binds `admin` to the merchant's: mints the merchant's admin backend token with its
    /// password (Basic) and keeps it as `admin`'s backend credential. When the log has no
    /// `admin` yet, it is created with that same password, so one password logs in on both.
    /// - Throws: 401 (2015) when the merchant refused the password, a clear error for a
    ///   `202`, the merchant's error otherwise; 500 (14) without a merchant configured.
    public func connectMerchant(adminPassword: String) async throws(EngineError) {
        let merchant = try configuredMerchant()
        guard let token = try await merchant.mintToken(.admin, password: adminPassword) else {
            throw EngineError(
                code: .merchantGenericUnauthorized,
                hint: "the merchant backend refused the admin password (401)")
        }
        if instance(.admin) == nil {
            try await createInstance(
                .init(id: .admin, name: "admin", auth: .password(adminPassword)))
        }
        try await setBackendCredential(instance: .admin, secret: token)
    }

    /// What ``adoptMerchantInstance(_:password:rotatePassword:)`` did.
    public struct Adoption: Sendable, Equatable {
        /// Whether the instance was created in Tallystick now (`false`: adopted before).
        public var created: Bool
        /// Whether the merchant password was replaced now.
        public var rotated: Bool
    }

    /// Takes over the existing merchant instance `id` with `password`, its staff's: mints its
    /// backend token, reads its details and creates the Tallystick instance with the same
    /// password (its scrypt hash), name, addresses and business fields, so staff log in as
    /// before. With `rotatePassword`, then sets the merchant password to one only Tallystick
    /// knows and mints the backend token again with it: from then on only Tallystick reaches
    /// that merchant instance. Run again after a crash, it finishes what is left.
    /// - Throws: 401 (2015) when the merchant refused the password; 409 (2600) when
    ///   Tallystick already has an instance `id` of its own; the merchant's errors.
    public func adoptMerchantInstance(
        _ id: InstanceID, password: String, rotatePassword: Bool
    ) async throws(EngineError) -> Adoption {
        let merchant = try configuredMerchant()
        var adoption = Adoption(created: false, rotated: false)
        if let existing = instance(id) {
            guard existing.backendCredential != nil else {
                throw EngineError(
                    code: .merchantPrivatePostInstancesAlreadyExists,
                    hint: "Tallystick already has an instance \(id) not bound to the merchant's")
            }
        } else {
            guard let token = try await merchant.mintToken(id, password: password) else {
                throw EngineError(
                    code: .merchantGenericUnauthorized,
                    hint: "the merchant backend refused the password of \(id) (401)")
            }
            let details = try await merchant.instanceDetails(id, credential: token)
            let new = Self.adopted(id, password: password, details: details)
            let now = clock.nowMicroseconds()
            adoption.created = try await createInstance(
                new, requester: .local,
                sideEffect: { [self] decided, _, _ throws(EngineError) in
                    guard decided.contains(where: { $0.tag == .instanceCreated }) else { return [] }
                    try keepBackendCredential(token, for: id)
                    return [
                        .merchantInstanceChanged(
                            MerchantInstanceChanged(at: now, action: .adopted, status: 200)),
                        .backendCredentialSet(
                            BackendCredentialSet(
                                at: now, fingerprint: BackendCredentialStore.fingerprint(of: token)
                            )),
                    ]
                })
        }
        if rotatePassword {
            try await rotateMerchantPassword(id, merchant)
            adoption.rotated = true
        }
        return adoption
    }

    /// Replaces `id`'s merchant password by one derived from its stream version, mints the
    /// backend token with it and records both. A retry after a crash derives the same
    /// password (nothing was appended), finds it already set (the mint works) and finishes.
    private func rotateMerchantPassword(_ id: InstanceID, _ merchant: MerchantBackend)
        async throws(EngineError)
    {
        let version = projection.read { $0.versions[id] ?? 0 }
        let password = merchant.password(for: id, version: version)
        var status = 200
        var token = try await merchant.mintToken(id, password: password)
        if token == nil {
            guard let current = backendCredential(for: id) else {
                throw EngineError(
                    code: .genericConfigurationInvalid,
                    hint: "\(id) has no usable backend credential to change its merchant password")
            }
            status = try await merchant.changePassword(id, to: password, credential: current)
            token = try await merchant.mintToken(id, password: password)
        }
        guard let token else {
            throw EngineError(
                code: .genericInvalidResponse,
                hint: "the merchant backend refused the password it was just given for \(id)")
        }
        try keepBackendCredential(token, for: id)
        let now = clock.nowMicroseconds()
        let fingerprint = BackendCredentialStore.fingerprint(of: token)
        let recorded = Int64(status)
        _ = try await run(
            .setBackendCredential(SetBackendCredential(fingerprint: fingerprint)), on: id, now: now,
            sideEffect: { _, _, _ throws(EngineError) in
                [
                    .merchantInstanceChanged(
                        MerchantInstanceChanged(at: now, action: .passwordRotated, status: recorded)
                    )
                ]
            })
    }

    // MARK: Helpers

    private func configuredMerchant() throws(EngineError) -> MerchantBackend {
        guard let merchant = configuration.merchant else {
            throw EngineError(
                code: .genericConfigurationInvalid,
                hint: "no merchant backend is configured (setting upstream)")
        }
        return merchant
    }

    /// `admin`'s backend credential: what reaches the merchant's `/management` API.
    private func merchantAdminCredential() throws(EngineError) -> String {
        guard let secret = backendCredential(for: .admin) else {
            throw EngineError(
                code: .genericConfigurationInvalid,
                hint:
                    "admin has no backend credential for the merchant backend; "
                    + "run: tallystick upstream connect")
        }
        return secret
    }

    /// Writes `token` to the credential file before the append that names it (the log never
    /// vouches for a secret the file lacks).
    private func keepBackendCredential(_ token: String, for id: InstanceID)
        throws(EngineError)
    {
        do {
            try configuration.backendCredentials.update(id, to: token)
        } catch {
            throw EngineError(code: .genericDBStoreFailed, hint: error.description)
        }
    }

    /// The merchant's instance body: `id` and `auth` for a creation, then `name`, the
    /// addresses and the stored business fields.
    static func merchantInstanceBody(
        id: InstanceID?, password: String?, name: String, email: String?, phoneNumber: String?,
        details: [UInt8]
    ) -> [UInt8] {
        var w = JSONWriter()
        w.beginObject()
        if let id { w.string("id", id.rawValue) }
        if let password {
            w.object("auth") { auth in
                auth.string("method", "token")
                auth.string("password", password)
            }
        }
        w.string("name", name)
        w.string("email", email)
        w.string("phone_number", phoneNumber)
        if !details.isEmpty, case .object(let members)? = try? JSONValue.parse(details) {
            for member in members {
                w.key(member.key)
                w.value(member.value)
            }
        }
        w.endObject()
        return w.bytes
    }

    /// The members of the merchant's instance details that are not business fields: named
    /// fields, computed ones, and its own auth.
    static let notBusinessFields: Set<String> = [
        "id", "name", "auth", "email", "phone_number", "email_validated", "phone_validated",
        "merchant_pub", "accounts",
    ]

    /// The Tallystick instance of an adopted merchant instance: its password, name,
    /// addresses (vouched for: the merchant had them) and business fields.
    static func adopted(_ id: InstanceID, password: String, details: JSONValue) -> NewInstance {
        var business: [(key: String, value: JSONValue)] = []
        if case .object(let members) = details {
            business = members.filter { !notBusinessFields.contains($0.key) }
        }
        var bytes: [UInt8] = []
        if !business.isEmpty {
            var w = JSONWriter()
            w.value(.object(business))
            bytes = w.bytes
        }
        func text(_ key: String) -> String? {
            if case .string(let value)? = details[key], !value.isEmpty { return value }
            return nil
        }
        return NewInstance(
            id: id, name: text("name") ?? id.rawValue, auth: .password(password),
            email: text("email"), phoneNumber: text("phone_number"), details: bytes)
    }
}
