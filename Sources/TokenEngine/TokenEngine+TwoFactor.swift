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

    /// A caller with no request to bind (the offline tools, benchmarks, tests of other
    /// things): an empty body and no challenge ids. Where two-factor authentication applies,
    /// the answer is still the challenges.
    public static let unbound = TwoFactorRequest(body: [], challengeIDs: nil)
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

    /// The value when performed.
    /// - Throws: 403 (2031) when the operation was answered with challenges instead: for
    ///   callers that cannot solve them (the offline tools, benchmarks).
    public var value: Value {
        get throws(EngineError) {
            switch self {
            case .performed(let value): return value
            case .challenged:
                throw EngineError(
                    code: .merchantGenericMFAMissing,
                    hint: "two-factor authentication is required for this operation")
            }
        }
    }
}

/// When a challenge may be solved and another TAN be sent (`POST .../challenge/$ID`).
public struct ChallengeTimes: Sendable, Equatable {
    /// µs since the epoch.
    public var solveExpiration: Int64
    public var earliestRetransmission: Int64
}

extension TokenEngine {
    // MARK: Protected operations

    /// Mints a login token (`POST [/instances/$ID]/private/token`) for an authenticated
    /// principal: with the instance's credentials any scope, behind the two-factor gate;
    /// with a login token (refresh, never challenged) one that holds `token-refresh` and
    /// every permission of the new token.
    public func issueToken(
        instance: InstanceID, by principal: Principal, scope: TokenScope,
        duration: TokenDuration = .default, description: String? = nil,
        twoFactor: TwoFactorRequest = .unbound
    ) async throws(EngineError) -> Guarded<IssuedToken> {
        let now = clock.nowMicroseconds()
        let (text, hash) = LoginTokenSecret.generate()
        let issue = IssueToken(
            scope, duration: duration, description: description, newTokenHash: hash,
            authenticatedBy: principal.credential)
        let command: DomainCommand =
            principal.isLoginToken ? .issueToken(issue) : protected(.issueToken(issue), twoFactor)
        let events = try await run(command, on: instance, now: now)
        if let response = challengeResponse(events) { return .challenged(response) }
        for case .tokenIssued(let issued) in events {
            return .performed(
                IssuedToken(
                    accessToken: text, serial: issued.serial, scope: scope, expiry: issued.expiry,
                    issuedAt: issued.issuedAt))
        }
        throw EngineError(code: .genericInternalInvariantFailure, hint: "no token was issued")
    }

    /// Replaces an instance's credentials, behind the two-factor gate; needs
    /// `instances-auth-write` when a principal is given (management calls pass `nil` after
    /// checking the admin). Existing login tokens stay valid. A new password is hashed in
    /// `requester`'s share of the hashing queue (``EngineError/busy`` when it is full).
    public func changeCredentials(
        instance: InstanceID, to newAuth: NewAuth, by principal: Principal?,
        twoFactor: TwoFactorRequest = .unbound, requester: RequesterKey = .local
    ) async throws(EngineError) -> Guarded<Void> {
        let auth: InstanceAuth
        switch newAuth {
        case .external: auth = .external
        case .password(let password):
            auth = .password(try await hasher.hash(password, for: requester))
        }
        let events = try await run(
            protected(.changeCredentials(ChangeCredentials(auth: auth)), twoFactor),
            on: instance, now: clock.nowMicroseconds(), credential: principal?.credential,
            permission: principal == nil ? nil : .instancesAuthWrite)
        if let response = challengeResponse(events) { return .challenged(response) }
        cache.drop(instance)
        return .performed(())
    }

    /// Changes an instance's name, addresses or business fields; needs `instances-write`
    /// when a principal is given. A change of `email` or `phone_number` is behind the
    /// two-factor gate, and a new address is proved by a challenge sent to it (spec §10.1).
    public func updateInstance(
        instance: InstanceID, _ update: UpdateInstanceDetails, by principal: Principal?,
        twoFactor: TwoFactorRequest = .unbound
    ) async throws(EngineError) -> Guarded<Void> {
        let now = clock.nowMicroseconds()
        let events = try await run(
            protected(.updateInstanceDetails(update), twoFactor), on: instance,
            now: now, credential: principal?.credential,
            permission: principal == nil ? nil : .instancesWrite,
            sideEffect: updateInMerchant(instance, now: now))
        if let response = challengeResponse(events) { return .challenged(response) }
        await finishedInMerchant(instance, events)
        return .performed(())
    }

    /// Deletes (or with `purge`, removes) an instance, behind the two-factor gate; its tokens
    /// stop working at once. Needs `instances-write` when a principal is given.
    public func deleteInstance(
        instance: InstanceID, purge: Bool, by principal: Principal?,
        twoFactor: TwoFactorRequest = .unbound
    ) async throws(EngineError) -> Guarded<Void> {
        let now = clock.nowMicroseconds()
        let events = try await run(
            protected(.deleteInstance(DeleteInstance(purge: purge)), twoFactor), on: instance,
            now: now, credential: principal?.credential,
            permission: principal == nil ? nil : .instancesWrite,
            sideEffect: deletionInMerchant(instance, purge: purge, now: now))
        if let response = challengeResponse(events) { return .challenged(response) }
        cache.drop(instance)
        await finishedInMerchant(instance, events)
        return .performed(())
    }

    /// `command` behind the gate, with fresh ids for the challenges it may create; the
    /// command alone when the operator's gate is off (then password mints stay pipelined).
    private func protected(_ command: DomainCommand, _ request: TwoFactorRequest) -> DomainCommand {
        guard !configuration.twoFactor.gate.isOff else { return command }
        var newIDs: [TANChannel: ChallengeID] = [:]
        for channel in TANChannel.allCases {
            newIDs[channel] = ChallengeID(randomBytes: SecureRandom.bytes(16))
        }
        return .protected(
            ProtectedCommand(
                command, bodyHash: request.bodyHash, challengeIDs: request.challengeIDs,
                newIDs: newIDs))
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
