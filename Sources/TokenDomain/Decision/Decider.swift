/// The two pure functions of the token core: `decide` (command + state + context → events or
/// a rejection) and `evolve` (state + event → state).
///
/// No I/O, no clock, no randomness: the engine passes the current instant in the
/// ``DecisionContext`` and fresh token hashes in the commands. For one instance the engine
/// runs decide → append (at the expected stream version) → evolve, in that order, so the state
/// changes only from committed events and a replay cannot disagree with the live server. With
/// group commit it may decide further token commands before earlier events commit; it then
/// passes what is pending in the context (``DecisionContext/reservedSerials``,
/// ``DecisionContext/pendingRevocations``).
public enum Decider {
    /// Decides `command` for the instance `instance`, whose folded state is `state` (`nil`
    /// when it does not exist or was purged).
    ///
    /// Returns the events to append, possibly none (an idempotent repeat). Order of checks:
    /// instance (404), credential (401), `token-refresh` (403), parameters (400), subset
    /// rule (403).
    ///
    /// A command whose refusal is itself recorded (``ConfirmChallenge`` with a wrong TAN)
    /// must be decided with ``decision(_:instance:state:context:)``: here such a refusal is
    /// thrown and its events are dropped.
    ///
    /// - Throws: a ``Rejection``; its ``Rejection/errorCode`` gives the Taler code and HTTP
    ///   status.
    public static func decide(
        _ command: DomainCommand, instance: InstanceID, state: InstanceState?,
        context: DecisionContext
    ) throws(Rejection) -> [DomainEvent] {
        switch command {
        case .createInstance(let create):
            return try decideCreate(create, instance: instance, state: state, context: context)
        case .deleteInstance(let delete):
            return try decideDelete(delete, state: state, context: context)
        case .changeCredentials(let change):
            let state = try requireActive(state)
            guard change.auth.isWellFormed else { throw .badCredentialsChange }
            if case .external = change.auth, !context.allowExternalAuth {
                throw .externalAuthNotAllowed(onCreation: false)
            }
            let changed = InstanceCredentialsChanged(
                at: context.now, auth: change.auth, generation: state.credentialGeneration + 1)
            return [.instanceCredentialsChanged(changed)]
        case .updateInstanceDetails(let update):
            return try decideUpdate(update, state: requireActive(state), context: context)
        case .issueToken(let issue):
            return try decideIssue(issue, state: requireActive(state), context: context)
        case .revokeToken(let revoke):
            let token = try requireActive(state).validToken(
                hash: revoke.hash, at: context.now, pendingRevocations: context.pendingRevocations)
            let revoked = TokenRevoked(serial: token.serial, at: context.now, reason: .selfRevoked)
            return [.tokenRevoked(revoked)]
        case .deleteToken(let delete):
            let state = try requireActive(state)
            guard let token = state.token(serial: delete.serial),
                token.liveStatus(at: context.now) == .valid,
                !context.pendingRevocations.contains(token.serial)
            else { throw .tokenUnknown(delete.serial) }
            let revoked = TokenRevoked(
                serial: token.serial, at: context.now, reason: .deletedBySerial)
            return [.tokenRevoked(revoked)]
        case .createChallenges(let create):
            return try decideCreateChallenges(create, state: requireActive(state), context: context)
        case .recordTransmission(let transmission):
            return try decideTransmission(
                transmission, state: requireActive(state), context: context)
        case .confirmChallenge(let confirm):
            return try decideConfirm(confirm, state: requireActive(state), context: context).get()
        case .consumeChallenges(let consume):
            return try decideConsume(consume, state: requireActive(state), context: context)
        case .expireChallenges:
            return decideExpire(state: try requireActive(state), context: context)
        case .unblockLogins:
            let state = try requireActive(state)
            guard let until = state.loginsBlockedUntil, context.now >= until else { return [] }
            return [.instanceLoginsUnblocked(InstanceLoginsUnblocked(at: context.now))]
        case .setBackendCredential(let set):
            let state = try requireActive(state)
            guard state.backendCredential != set.fingerprint else { return [] }
            return [
                .backendCredentialSet(
                    BackendCredentialSet(at: context.now, fingerprint: set.fingerprint))
            ]
        case .removeBackendCredential:
            guard try requireActive(state).backendCredential != nil else { return [] }
            return [.backendCredentialRemoved(BackendCredentialRemoved(at: context.now))]
        case .protected(let protected):
            return try decideProtected(
                protected, instance: instance, state: state, context: context)
        }
    }

    /// Decides `command` like ``decide(_:instance:state:context:)``, but returns refusals
    /// with the events that must still be appended: the engine's entry point for
    /// ``ConfirmChallenge`` (and usable for every command). Never throws: a refusal is
    /// ``Decision/rejection``.
    public static func decision(
        _ command: DomainCommand, instance: InstanceID, state: InstanceState?,
        context: DecisionContext
    ) -> Decision {
        do throws(Rejection) {
            if case .confirmChallenge(let confirm) = command {
                return try decideConfirm(confirm, state: requireActive(state), context: context)
            }
            return Decision(
                events: try decide(command, instance: instance, state: state, context: context))
        } catch {
            return Decision(rejection: error)
        }
    }

    /// Folds one event of instance `instance` into its state, in place: `instance-created`
    /// makes the state, `instance-purged` removes it, the rest change it.
    ///
    /// - Throws: ``FoldError`` when the event does not fit; `state` is then unchanged.
    public static func evolve(
        _ state: inout InstanceState?, instance: InstanceID, with event: DomainEvent
    ) throws(FoldError) {
        switch event {
        case .instanceCreated(let created):
            guard case .none = state else {
                throw FoldError(instance: instance, tag: event.tag, problem: .instanceAlreadyExists)
            }
            state = InstanceState(id: instance, created: created)
        case .instancePurged:
            guard case .some = state else {
                throw FoldError(instance: instance, tag: event.tag, problem: .instanceUnknown)
            }
            state = nil
        default:
            // Optional chaining mutates in place: no copy of the instance, so its token
            // array stays uniquely referenced and appends never copy it.
            let applied: Void? = try state?.apply(event)
            guard applied != nil else {
                throw FoldError(instance: instance, tag: event.tag, problem: .instanceUnknown)
            }
        }
    }

    private static func requireActive(_ state: InstanceState?) throws(Rejection) -> InstanceState {
        guard let state else { throw .instanceUnknown }
        guard state.isActive else { throw .instanceDeleted }
        return state
    }

    private static func decideCreate(
        _ create: CreateInstance, instance: InstanceID, state: InstanceState?,
        context: DecisionContext
    ) throws(Rejection) -> [DomainEvent] {
        guard create.id == instance else { throw .malformedParameter("id") }
        guard create.auth.isWellFormed else { throw .badInstanceAuth }
        let email = try usableAddress(create.email, for: .email)
        let phoneNumber = try usableAddress(create.phoneNumber, for: .sms)
        if let existing = state {
            guard existing.isActive else { throw .purgeRequired }
            guard existing.name == create.name, existing.address(for: .email) == email,
                existing.address(for: .sms) == phoneNumber, existing.details == create.details,
                sameAuth(existing, create)
            else { throw .instanceAlreadyExists }
            return []
        }
        if case .external = create.auth, !context.allowExternalAuth {
            throw .externalAuthNotAllowed(onCreation: true)
        }
        let created = InstanceCreated(
            at: context.now, name: create.name, auth: create.auth, email: email,
            phoneNumber: phoneNumber, details: create.details)
        var events: [DomainEvent] = [.instanceCreated(created)]
        if create.addressesVouched {
            for (channel, address) in [(TANChannel.sms, phoneNumber), (.email, email)] {
                guard let address else { continue }
                events.append(
                    .instanceAddressValidated(
                        InstanceAddressValidated(
                            at: context.now, channel: channel, address: address, challenge: nil)))
            }
        }
        return events
    }

    /// `address` normalized by ``ContactAddress``, `nil` for none or an empty one.
    /// - Throws: ``Rejection/addressUnusable(_:)`` when it fails the rules.
    private static func usableAddress(_ address: String?, for channel: TANChannel)
        throws(Rejection) -> String?
    {
        guard let address, !address.isEmpty else { return nil }
        guard let normalized = ContactAddress.normalized(address, for: channel) else {
            throw .addressUnusable(channel)
        }
        return normalized
    }

    /// Whether a repeated creation asks for the auth the instance has. Password hashes are
    /// salted afresh, so for passwords this relies on the engine's check of the request's
    /// password against the current generation's hash.
    private static func sameAuth(_ existing: InstanceState, _ create: CreateInstance) -> Bool {
        switch (existing.auth, create.auth) {
        case (.external, .external):
            true
        case (.password, .password):
            create.passwordVerifiedAgainstGeneration == existing.credentialGeneration
        default:
            false
        }
    }

    private static func decideDelete(
        _ delete: DeleteInstance, state: InstanceState?, context: DecisionContext
    ) throws(Rejection) -> [DomainEvent] {
        guard let state else { throw .instanceUnknown }
        if delete.purge { return [.instancePurged(InstancePurged(at: context.now))] }
        guard state.isActive else { throw .instanceDeleted }
        return [.instanceDeleted(InstanceDeleted(at: context.now))]
    }

    /// A change of either address also ends every address-change challenge still open
    /// (`challenge-expired`): they were asked about addresses that are gone.
    private static func decideUpdate(
        _ update: UpdateInstanceDetails, state: InstanceState, context: DecisionContext
    ) throws(Rejection) -> [DomainEvent] {
        let addresses = try update.addresses(from: state)
        let email: String? =
            if case .set = update.email { addresses[.email] } else { state.email }
        let phoneNumber: String? =
            if case .set = update.phoneNumber { addresses[.sms] } else { state.phoneNumber }
        let updated = InstanceDetailsUpdated(
            at: context.now,
            name: update.name.applied(to: state.name),
            email: email,
            phoneNumber: phoneNumber,
            details: update.details.applied(to: state.details))
        let addressesChanged = TANChannel.allCases.contains {
            addresses[$0] != state.address(for: $0)
        }
        guard
            updated.name != state.name || updated.email != state.email
                || updated.phoneNumber != state.phoneNumber || updated.details != state.details
        else { return [] }
        var events: [DomainEvent] = [.instanceDetailsUpdated(updated)]
        if addressesChanged {
            events += state.challenges.values
                .filter { challenge in
                    guard
                        challenge.operation == .addressChange
                            || challenge.operation == .addressValidation
                    else { return false }
                    switch challenge.status {
                    case .pending, .solved: return !challenge.isExpired(at: context.now)
                    case .consumed, .expired: return false
                    }
                }
                .map(\.id).sorted()
                .map { .challengeExpired(ChallengeExpired(id: $0, at: context.now)) }
        }
        return events
    }

    private static func decideIssue(
        _ issue: IssueToken, state: InstanceState, context: DecisionContext
    ) throws(Rejection) -> [DomainEvent] {
        let requested = issue.scope.permissions(refreshable: issue.refreshable)
        let origin: TokenOrigin
        var held = PermissionSet.everyPermission
        switch issue.authenticatedBy {
        case .password(let basic, let generation):
            if let until = state.loginsBlockedUntil, state.loginsBlocked(at: context.now) {
                throw .loginsBlocked(until: until)
            }
            guard generation == state.credentialGeneration else {
                throw .unauthorized(.credentialsChanged)
            }
            origin = .password(basic: basic)
        case .token(let hash):
            let presenting = try state.validToken(
                hash: hash, at: context.now, pendingRevocations: context.pendingRevocations)
            held = presenting.permissions
            guard held.contains(.tokenRefresh) else {
                throw .permissionInsufficient(missing: PermissionSet(.tokenRefresh))
            }
            origin = .token(parent: presenting.serial)
        }
        guard issue.duration.isValid else { throw .malformedParameter("duration") }
        guard requested.isSubset(of: held) else {
            throw .permissionInsufficient(missing: requested.subtracting(held))
        }
        guard state.token(hash: issue.newTokenHash) == nil else { throw .duplicateTokenHash }
        let issued = TokenIssued(
            serial: TokenSerial(state.nextSerial.rawValue + context.reservedSerials),
            hash: issue.newTokenHash, scope: issue.scope,
            refreshable: issue.refreshable, issuedAt: context.now,
            expiry: issue.duration.expiry(issuedAt: context.now, cap: context.maxTokenDuration),
            description: issue.description, origin: origin)
        return [.tokenIssued(issued)]
    }
}

extension InstanceAuth {
    /// Whether the auth can be stored: always for `external`, for a password when its hash
    /// is well formed.
    var isWellFormed: Bool {
        switch self {
        case .external: true
        case .password(let hash): hash.isWellFormed
        }
    }
}
