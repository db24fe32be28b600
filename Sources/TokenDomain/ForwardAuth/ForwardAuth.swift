/// The forward-auth decision (spec §9): may a request a reverse proxy holds go on to the
/// merchant, and with which instance's backend credential?
///
/// Pure: no I/O, no clock. The HTTP layer normalises the request (``ForwardRequest``),
/// authenticates the presented credential against ``ForwardRequest/instance`` when
/// ``ForwardRequest/needsCredential`` (reading the committed projection, so a revocation
/// answered to a client is seen by the very next check), reads that instance's lifecycle
/// from the same projection, and maps the decision to 200 (with or without
/// `X-Taler-Backend-Authorization`), 401 or 403. What the merchant gets never depends on
/// anything but these inputs: a backend credential is handed out only by ``allow``.
public enum ForwardAuth {
    /// Decides `request`, given the lifecycle of ``ForwardRequest/instance`` (`nil` when
    /// Tallystick does not know it) and what authenticating the presented credential against
    /// that instance gave.
    ///
    /// Order of checks (path normalisation, 400, came before, in ``ForwardRequest``):
    /// 1. served by Tallystick itself → pass (its endpoint checks its own credentials);
    /// 2. public (a public row, or a request outside `/private` and `/management` in no row)
    ///    → pass; `instance` and `credential` are not looked at;
    /// 3. instance unknown or deleted → 401 (2015);
    /// 4. no credential, or an invalid one → 401 (2015);
    /// 5. a valid credential of another instance → 403 (2015);
    /// 6. a permission the access needs is missing → 403 (16); a request in no row under
    ///    `/private` or `/management` needs every permission of the `all` scope;
    /// 7. allow, with the backend credential of ``ForwardRequest/instance``.
    public static func decide(
        _ request: ForwardRequest, instance: InstanceLifecycle?, credential: ForwardCredential
    ) -> ForwardAuthDecision {
        if request.servedBy == .tallystick { return .pass(.servedByTallystick) }
        guard let required = request.access.required else { return .pass(.publicEndpoint) }
        switch instance {
        case .none: return .deny(.instanceUnknown)
        case .deleted: return .deny(.instanceDeleted)
        case .active: break
        }
        switch credential {
        case .absent: return .deny(.noCredential)
        case .invalid: return .deny(.credentialInvalid)
        case .valid(let owner, let permissions):
            guard owner == request.instance else { return .deny(.otherInstance(owner)) }
            let missing = required.subtracting(permissions)
            guard missing.isEmpty else { return .deny(.permissionInsufficient(missing: missing)) }
            return .allow(instance: request.instance, required: required)
        }
    }
}
