import Hummingbird
import TokenDomain
import TokenEngine

/// The instance endpoints (spec §5): credentials, creation, listing, details, changes and
/// deletion, under `[/instances/$ID]/private` for the instance itself and under
/// `/management/instances` for `admin`.
extension MerchantAPI {
    /// `POST [/instances/$ID]/private/auth`, behind the two-factor gate.
    func changeOwnCredentials(
        _ request: Request, _ context: MerchantRequestContext, _ instance: InstanceID
    ) async throws -> Response {
        try await changeCredentials(request, context, instance, asAdmin: false)
    }

    /// `POST /management/instances/$ID/auth`, behind the target instance's gate.
    func changeManagedCredentials(
        _ request: Request, _ context: MerchantRequestContext, _ instance: InstanceID
    ) async throws -> Response {
        try await changeCredentials(request, context, instance, asAdmin: true)
    }

    /// Either form: the instance's own credentials (needing `instances-auth-write`), or
    /// `admin`'s for a `/management` call.
    private func changeCredentials(
        _ request: Request, _ context: MerchantRequestContext, _ instance: InstanceID,
        asAdmin: Bool
    ) async throws -> Response {
        let bytes = try await body(request)
        var principal: Principal?
        if asAdmin {
            try await authenticateAdmin(request, context, permission: .instancesAuthWrite)
        } else {
            principal = try await authenticate(request, context, instance: instance)
        }
        let auth = try InstanceAuthConfigurationMessage(
            try RequestFields.object(bytes), badAuth: .merchantPrivatePostInstanceAuthBadAuth
        ).auth
        return Self.answer(
            try await engine.changeCredentials(
                instance: instance, to: auth, by: principal,
                twoFactor: try Self.twoFactor(request, body: bytes),
                requester: requester(request, context)))
    }

    /// `POST /management/instances`: 204 created (or the same data again), 409 otherwise.
    func createInstance(_ request: Request, _ context: MerchantRequestContext, _: InstanceID)
        async throws -> Response
    {
        let bytes = try await body(request)
        try await authenticateAdmin(request, context, permission: .instancesWrite)
        let message = try InstanceConfigurationMessage(bytes)
        try await engine.createInstance(message.instance, requester: requester(request, context))
        return Self.noContent()
    }

    /// `GET /management/instances`.
    func listInstances(_ request: Request, _ context: MerchantRequestContext, _: InstanceID)
        async throws -> Response
    {
        try await authenticateAdmin(request, context, permission: .instancesRead)
        // Copies without the token index: a copy held past the lock would make the next mint
        // of its instance copy the index.
        let states = engine.instanceIDs().compactMap { id in
            engine.withInstance(id) { $0.withoutTokenIndex() }
        }
        return InstancesResponse(instances: states).response()
    }

    /// `GET [/instances/$ID]/private`.
    func instanceDetails(
        _ request: Request, _ context: MerchantRequestContext, _ instance: InstanceID
    ) async throws -> Response {
        let principal = try await authenticate(request, context, instance: instance)
        guard principal.permissions.contains(.instancesRead) else {
            throw TalerError(
                .genericTokenPermissionInsufficient, hint: "missing permissions: instances-read")
        }
        return try details(of: instance)
    }

    /// `GET /management/instances/$ID`.
    func managedInstanceDetails(
        _ request: Request, _ context: MerchantRequestContext, _ instance: InstanceID
    ) async throws -> Response {
        try await authenticateAdmin(request, context, permission: .instancesRead)
        return try details(of: instance)
    }

    private func details(of instance: InstanceID) throws(TalerError) -> Response {
        guard let state = engine.withInstance(instance, { $0.withoutTokenIndex() }) else {
            throw TalerError(.merchantGenericInstanceUnknown, hint: "unknown instance")
        }
        guard state.isActive else {
            throw TalerError(.merchantGenericInstanceDeleted, hint: "instance deleted")
        }
        return InstanceDetails(state: state).response()
    }

    /// `PATCH [/instances/$ID]/private` (``InstanceReconfigurationMessage``). A change of
    /// `email` or `phone_number` is a protected operation (spec §10.1): `202` with
    /// challenges, then the repeated request with `Taler-Challenge-Ids`.
    func updateInstance(
        _ request: Request, _ context: MerchantRequestContext, _ instance: InstanceID
    ) async throws -> Response {
        let bytes = try await body(request)
        let principal = try await authenticate(request, context, instance: instance)
        let message = try InstanceReconfigurationMessage(
            bytes, stored: engine.withInstance(instance, { $0.details }) ?? [])
        return Self.answer(
            try await engine.updateInstance(
                instance: instance, message.update, by: principal,
                twoFactor: try Self.twoFactor(request, body: bytes)))
    }

    /// `PATCH /management/instances/$ID`: the same change by `admin` (`instances-write`),
    /// behind the target instance's gate.
    func updateManagedInstance(
        _ request: Request, _ context: MerchantRequestContext, _ instance: InstanceID
    ) async throws -> Response {
        let bytes = try await body(request)
        try await authenticateAdmin(request, context, permission: .instancesWrite)
        let message = try InstanceReconfigurationMessage(
            bytes, stored: engine.withInstance(instance, { $0.details }) ?? [])
        return Self.answer(
            try await engine.updateInstance(
                instance: instance, message.update, by: nil,
                twoFactor: try Self.twoFactor(request, body: bytes)))
    }

    /// `DELETE [/instances/$ID]/private[?purge=yes]`, behind the two-factor gate.
    func deleteOwnInstance(
        _ request: Request, _ context: MerchantRequestContext, _ instance: InstanceID
    ) async throws -> Response {
        let principal = try await authenticate(request, context, instance: instance)
        let purge = Self.purge(request)
        return Self.answer(
            try await engine.deleteInstance(
                instance: instance, purge: purge, by: principal,
                twoFactor: try Self.twoFactor(request, body: Self.deletionBody(purge: purge))))
    }

    /// `DELETE /management/instances/$ID[?purge=yes]`, behind the target instance's gate.
    func deleteManagedInstance(
        _ request: Request, _ context: MerchantRequestContext, _ instance: InstanceID
    ) async throws -> Response {
        try await authenticateAdmin(request, context, permission: .instancesWrite)
        let purge = Self.purge(request)
        return Self.answer(
            try await engine.deleteInstance(
                instance: instance, purge: purge, by: nil,
                twoFactor: try Self.twoFactor(request, body: Self.deletionBody(purge: purge))))
    }

    static func purge(_ request: Request) -> Bool {
        request.uri.queryParameters["purge"].map { $0.lowercased() == "yes" } ?? false
    }
}
