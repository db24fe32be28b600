import TokenDomain

/// Backend credentials (spec §9): set and removed by the operator, recorded by fingerprint,
/// handed to the reverse proxy only while the log vouches for them.
extension TokenEngine {
    /// Sets (or rotates) `instance`'s backend credential: the file first, then
    /// `backend-credential-set.v1` with its fingerprint, so the log never vouches for a
    /// secret the file does not hold.
    /// - Throws: 400 (26, `secret`) for an unusable secret; 404 (2000/2016); a storage error
    ///   when the file or the log cannot be written.
    public func setBackendCredential(instance: InstanceID, secret: String)
        async throws(EngineError)
    {
        guard BackendCredentialStore.isUsable(secret) else {
            throw EngineError.malformed(
                "secret", "a backend credential is 1 to 512 printable characters without spaces")
        }
        guard let state = self.instance(instance) else {
            throw EngineError.rejected(.instanceUnknown)
        }
        guard state.isActive else { throw EngineError.rejected(.instanceDeleted) }
        do {
            try configuration.backendCredentials.update(instance, to: secret)
        } catch {
            throw EngineError(code: .genericDBStoreFailed, hint: error.description)
        }
        _ = try await run(
            .setBackendCredential(
                SetBackendCredential(fingerprint: BackendCredentialStore.fingerprint(of: secret))),
            on: instance, now: clock.nowMicroseconds())
    }

    /// Removes `instance`'s backend credential: the file first (it is no longer handed out),
    /// then `backend-credential-removed.v1`.
    public func removeBackendCredential(instance: InstanceID) async throws(EngineError) {
        do {
            try configuration.backendCredentials.update(instance, to: nil)
        } catch {
            throw EngineError(code: .genericDBStoreFailed, hint: error.description)
        }
        _ = try await run(
            .removeBackendCredential(RemoveBackendCredential()), on: instance,
            now: clock.nowMicroseconds())
    }

    /// The backend credential of `instance`: the secret in the file, when its fingerprint is
    /// the one the committed state holds; `nil` otherwise (none set, removed, or the file and
    /// the log disagree).
    public func backendCredential(for instance: InstanceID) -> String? {
        guard let kept = configuration.backendCredentials.kept(for: instance),
            let recorded = projection.read({ $0.state[instance]?.backendCredential }),
            recorded == kept.fingerprint
        else { return nil }
        return kept.secret
    }

    /// The instances whose backend credential the file and the log disagree on, each as one
    /// line for the operator (no secret): the server prints them at start.
    public func backendCredentialWarnings() -> [String] {
        let store = configuration.backendCredentials
        var warnings: [String] = []
        var ids = Set(store.instances())
        for id in instanceIDs() where instance(id)?.backendCredential != nil { ids.insert(id) }
        for id in ids.sorted() {
            let recorded = instance(id)?.backendCredential
            let kept = store.kept(for: id)?.fingerprint
            guard recorded != kept else { continue }
            switch (recorded, kept) {
            case (nil, _):
                warnings.append(
                    "the backend credential of \(id) in the file is not in the log; "
                        + "set it again: tallystick backend-credential set \(id)")
            case (_, nil):
                warnings.append(
                    "the log names a backend credential for \(id) that the file lacks; "
                        + "set it again: tallystick backend-credential set \(id)")
            default:
                warnings.append(
                    "the backend credential of \(id) in the file is not the one the log "
                        + "names; set it again: tallystick backend-credential set \(id)")
            }
        }
        return warnings
    }
}
