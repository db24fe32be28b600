import Crypto
import Synchronization
import TokenDomain

/// What a protected request brought for the two-factor gate: its body (hashed, to bind the
/// challenges to it) and the ids of its `Taler-Challenge-Ids` header, if any.
public struct TwoFactorRequest: Sendable {
    public var bodyHash: RequestBodyHash
    /// `nil` when the header was absent: the answer is then new challenges.
    public var challengeIDs: [ChallengeID]?

    /// `body` is what binds the challenges: the request body as sent, or for a deletion its
    /// canonical parameters.
    public init(body: [UInt8], challengeIDs: [ChallengeID]?) {
        bodyHash = RequestBodyHash(bytes: Array(SHA256.hash(data: body)))!
        self.challengeIDs = challengeIDs
    }
}

/// The `202` answer: the challenges to solve before the request is repeated.
public struct ChallengeResponse: Sendable, Equatable {
    public struct Challenge: Sendable, Equatable {
        public var id: ChallengeID
        public var channel: TANChannel
        /// The masked address (`tan_info`).
        public var info: String
    }

    public var challenges: [Challenge]
    /// Whether all must be solved (`combi_and`).
    public var combiAnd: Bool
}

/// A protected operation's outcome: performed, or answered with challenges.
public enum Guarded<Value: Sendable>: Sendable {
    case performed(Value)
    case challenged(ChallengeResponse)
}

/// When a challenge may be solved and another TAN be sent (`POST .../challenge/$ID`).
public struct ChallengeTimes: Sendable, Equatable {
    /// µs since the epoch.
    public var solveExpiration: Int64
    public var earliestRetransmission: Int64
}

extension TokenEngine {
    // MARK: Protected operations

    /// Mints a token like ``issueToken(instance:by:scope:duration:description:)``, behind
    /// the two-factor gate when the principal used the instance's credentials.
    public func issueToken(
        instance: InstanceID, by principal: Principal, scope: TokenScope,
        duration: TokenDuration = .default, description: String? = nil,
        twoFactor: TwoFactorRequest
    ) async throws(EngineError) -> Guarded<IssuedToken> {
        let gate = configuration.twoFactor.gate
        if principal.isLoginToken || gate.isOff {
            return .performed(
                try await issueToken(
                    instance: instance, by: principal, scope: scope, duration: duration,
                    description: description))
        }
        let now = clock.nowMicroseconds()
        let (text, hash) = LoginTokenSecret.generate()
        let command = IssueToken(
            scope, duration: duration, description: description, newTokenHash: hash,
            authenticatedBy: principal.credential)
        let events = try await runProtected(
            .tokenIssue, .issueToken(command), instance: instance, request: twoFactor, now: now)
        if let response = challengeResponse(events) { return .challenged(response) }
        for case .tokenIssued(let issued) in events {
            return .performed(
                IssuedToken(
                    accessToken: text, serial: issued.serial, scope: scope, expiry: issued.expiry,
                    issuedAt: issued.issuedAt))
        }
        throw EngineError(code: .genericInternalInvariantFailure, hint: "no token was issued")
    }

    /// Changes credentials like ``changeCredentials(instance:to:by:requester:)``, behind the
    /// gate.
    public func changeCredentials(
        instance: InstanceID, to newAuth: NewAuth, by principal: Principal?,
        twoFactor: TwoFactorRequest, requester: RequesterKey = .local
    ) async throws(EngineError) -> Guarded<Void> {
        guard !configuration.twoFactor.gate.isOff else {
            try await changeCredentials(
                instance: instance, to: newAuth, by: principal, requester: requester)
            return .performed(())
        }
        let auth: InstanceAuth
        switch newAuth {
        case .external: auth = .external
        case .password(let password):
            auth = .password(try await hasher.hash(password, for: requester))
        }
        let events = try await runProtected(
            .credentialChange, .changeCredentials(ChangeCredentials(auth: auth)),
            instance: instance, request: twoFactor, now: clock.nowMicroseconds(),
            principal: principal, permission: .instancesAuthWrite)
        if let response = challengeResponse(events) { return .challenged(response) }
        cache.drop(instance)
        return .performed(())
    }

    /// Deletes an instance like ``deleteInstance(instance:purge:by:)``, behind the gate.
    public func deleteInstance(
        instance: InstanceID, purge: Bool, by principal: Principal?, twoFactor: TwoFactorRequest
    ) async throws(EngineError) -> Guarded<Void> {
        guard !configuration.twoFactor.gate.isOff else {
            try await deleteInstance(instance: instance, purge: purge, by: principal)
            return .performed(())
        }
        let events = try await runProtected(
            .instanceDeletion, .deleteInstance(DeleteInstance(purge: purge)),
            instance: instance, request: twoFactor, now: clock.nowMicroseconds(),
            principal: principal, permission: .instancesWrite)
        if let response = challengeResponse(events) { return .challenged(response) }
        cache.drop(instance)
        return .performed(())
    }

    private func runProtected(
        _ operation: ProtectedOperation, _ command: DomainCommand, instance: InstanceID,
        request: TwoFactorRequest, now: Int64, principal: Principal? = nil,
        permission: Permission? = nil
    ) async throws(EngineError) -> [DomainEvent] {
        var newIDs: [TANChannel: ChallengeID] = [:]
        for channel in TANChannel.allCases {
            newIDs[channel] = ChallengeID(randomBytes: SecureRandom.bytes(16))
        }
        let plan = ProtectedPlan(
            operation: operation, bodyHash: request.bodyHash, challengeIDs: request.challengeIDs,
            newIDs: newIDs, gate: configuration.twoFactor.gate, command: command)
        return try await run(
            plan: .protected(plan), on: instance, now: now, credential: principal?.credential,
            permission: principal == nil ? nil : permission)
    }

    /// The `202` answer when `events` created challenges (and performed nothing).
    private func challengeResponse(_ events: [DomainEvent]) -> ChallengeResponse? {
        var challenges: [ChallengeResponse.Challenge] = []
        var combiAnd = false
        for case .challengeCreated(let created) in events {
            challenges.append(
                .init(
                    id: created.id, channel: created.channel,
                    info: TANCodes.mask(created.address, channel: created.channel)))
            combiAnd = created.combiAnd
        }
        return challenges.isEmpty
            ? nil : ChallengeResponse(challenges: challenges, combiAnd: combiAnd)
    }

    // MARK: Challenges

    /// Sends a new TAN for a challenge (`POST [/instances/$ID]/challenge/$CID`): checks that
    /// one may be sent now, runs the helper outside the instance's actor, and records the
    /// code's hash once the helper reported success.
    /// - Throws: 404 (2126) unknown or expired, 410 (2129) solved, 429 (2130) too early or a
    ///   transmission of this challenge in progress, 403 (2131) logins blocked, 502 (2128) the
    ///   helper failed.
    public func transmitCode(instance: InstanceID, challenge id: ChallengeID)
        async throws(EngineError) -> ChallengeTimes
    {
        let twoFactor = configuration.twoFactor
        let now = clock.nowMicroseconds()
        let probe = RecordTransmission(
            id: id, tanHash: TANHash(bytes: Array(repeating: 0, count: 32))!)
        let checked: Result<ChallengeState, EngineError> = projection.read { c in
            do throws(Rejection) {
                _ = try c.state.decide(
                    .recordTransmission(probe), for: instance, context: context(now: now))
                guard let challenge = c.state[instance]?.challenge(id) else {
                    return .failure(.rejected(.challengeUnknown(id)))
                }
                return .success(challenge)
            } catch {
                return .failure(.rejected(error))
            }
        }
        let challenge = try checked.get()
        guard let sender = twoFactor.sender, sender.channels.contains(challenge.channel) else {
            throw EngineError(
                code: .merchantTANMFAHelperExecFailed,
                hint: "no helper for \(challenge.channel.wireName) is configured")
        }
        let key = "\(instance.rawValue)/\(id.rawValue)"
        guard transmissions.withLock({ $0.insert(key).inserted }) else {
            throw EngineError.rejected(.challengeTooEarly(id, earliestRetransmission: now))
        }
        defer { _ = transmissions.withLock { $0.remove(key) } }
        let code = TANCodes.generate(digits: twoFactor.codeDigits)
        let message =
            "\(code) is your code for the Taler merchant instance \(instance.rawValue). "
            + "Never share it."
        do {
            try await sender.send(message, over: challenge.channel, to: challenge.address)
        } catch {
            throw EngineError(
                code: .merchantTANMFAHelperExecFailed,
                hint: "the \(challenge.channel.wireName) helper did not send the code")
        }
        let hash = TANCodes.hash(code, challenge: id, instance: instance, key: twoFactor.codeKey)
        _ = try await run(
            plan: .command(.recordTransmission(RecordTransmission(id: id, tanHash: hash))),
            on: instance, now: clock.nowMicroseconds())
        guard let sent = self.instance(instance)?.challenge(id) else {
            throw EngineError.rejected(.challengeUnknown(id))
        }
        return ChallengeTimes(
            solveExpiration: sent.solveExpiry,
            earliestRetransmission: sent.earliestRetransmission(
                interval: twoFactor.policy.retransmissionInterval))
    }

    /// Solves a challenge with a TAN (`POST [/instances/$ID]/challenge/$CID/confirm`).
    /// - Throws: 409 (2125) wrong code (recorded, with the attempts left), 429 (2127) no
    ///   attempts left or no valid code, 404 (2126), 410 (2129), 403 (2131).
    public func confirmCode(instance: InstanceID, challenge id: ChallengeID, code: String)
        async throws(EngineError)
    {
        let hash = TANCodes.hash(
            code, challenge: id, instance: instance, key: configuration.twoFactor.codeKey)
        _ = try await run(
            plan: .recorded(.confirmChallenge(ConfirmChallenge(id: id, tanHash: hash))),
            on: instance, now: clock.nowMicroseconds())
    }
}
