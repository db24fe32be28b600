import EventLog
import Synchronization
import TokenDomain

/// The token engine: the one place commands run. The HTTP layer, the offline password tool
/// and the tests call it; it folds the log at start, checks credentials, and routes every
/// command to its instance's actor.
///
/// Reads (token checks, listings, details) go straight to the committed state under a short
/// lock; password checks run the KDF on threads of their own, in a bounded queue that serves
/// requesters in turn (``HashingQueue``, after a cache of recent successes); writes go
/// through ``InstanceActor``s and the group-committed log.
public final class TokenEngine: Sendable {
    public let configuration: EngineConfiguration
    let log: any EventStore
    let clock: any LogClock
    let projection: Projection
    let hasher: PasswordHasher
    let cache: CredentialCache
    private let actors = Mutex<[InstanceID: InstanceActor]>([:])
    private let broken = Mutex<String?>(nil)
    let checkpointer: Checkpointer
    /// Challenges whose TAN is being sent now (`instance/challenge`): one helper run at a time.
    let transmissions = Mutex<Set<String>>([])

    /// Folds `log` (from its newest valid checkpoint) and returns an engine serving it.
    /// - Throws: ``EventLogError`` or ``ReplayedState/FoldFailure`` when the log cannot be
    ///   folded; the engine does not start on a damaged log.
    public init(
        log: any EventStore, configuration: EngineConfiguration = EngineConfiguration(),
        clock: any LogClock
    )
        async throws
    {
        self.log = log
        self.configuration = configuration
        self.clock = clock
        let replayed = try await ReplayedState.load(
            log, checkpointName: configuration.checkpointName)
        projection = Projection(replayed)
        checkpointer = Checkpointer(
            log: log, name: configuration.checkpointName, stored: replayed.stored,
            failpoint: configuration.failpoint,
            saved: configuration.checkpointSaved)
        hasher = PasswordHasher(
            parameters: configuration.passwordHashing,
            limits: HashingQueue.Limits(
                threads: configuration.kdfThreads, waiting: configuration.kdfQueueLimit,
                perRequester: configuration.kdfQueueLimitPerRequester),
            derive: configuration.keyDerivation)
        cache = CredentialCache(
            capacity: configuration.credentialCacheCapacity,
            lifetime: configuration.credentialCacheLifetime)
        if configuration.sharedLog { startFollowing() }
    }

    // MARK: Several servers on one log

    /// Folds every record other servers append into the state, in the log's order, as the
    /// log announces it, until the log closes. A record of this server's own append still in
    /// flight is left to its actor, and the follower waits until the actor folded it, so
    /// each instance's records are folded in order; when the actor was answered with a
    /// failure instead (the database went away while the append committed, so it is in the
    /// log after all), the follower folds it. A record that does not fit stops the engine
    /// (as a fold failure of its own appends does).
    private func startFollowing() {
        let from = projection.read { $0.appliedThrough } + 1
        Task { [weak self, log, projection] in
            do {
                for try await record in log.follow(from: from) {
                    if projection.isInFlight(record) {
                        await projection.waitWhileInFlight(record)
                    }
                    try projection.fold(record)
                }
            } catch EventLogError.closed {
            } catch {
                self?.broken.withLock { $0 = "state and log disagree: \(error)" }
            }
            projection.stopWaiting()
        }
    }

    /// With other servers on the log: waits until everything committed so far is folded.
    private var catchUp: (@Sendable () async throws -> Void)? {
        guard configuration.sharedLog else { return nil }
        return { [log, projection] in
            let head = try await log.head()
            await projection.waitUntilApplied(through: head.sequence)
        }
    }

    /// Returns once every record through `sequence` is folded into the state: a test, or a
    /// server answering for a write another server made, waits here instead of polling.
    public func waitUntilApplied(through sequence: UInt64) async {
        await projection.waitUntilApplied(through: sequence)
    }

    private func actor(for instance: InstanceID) -> InstanceActor {
        actors.withLock { all in
            if let existing = all[instance] { return existing }
            let made = InstanceActor(
                id: instance, log: log, projection: projection, catchUp: catchUp
            ) {
                [weak self] failure in
                self?.broken.withLock { $0 = "state and log disagree: \(failure)" }
            }
            all[instance] = made
            return made
        }
    }

    func context(now: Int64) -> DecisionContext {
        DecisionContext(
            now: now, maxTokenDuration: configuration.maxTokenDuration,
            challengePolicy: configuration.twoFactor.policy,
            twoFactor: configuration.twoFactor.gate,
            allowExternalAuth: configuration.allowExternalAuth)
    }

    func run(
        _ command: DomainCommand, on instance: InstanceID, now: Int64,
        credential: Credential? = nil,
        permission: Permission? = nil, sideEffect: SideEffect? = nil
    ) async throws(EngineError) -> [DomainEvent] {
        try await run(
            plan: .command(command), on: instance, now: now, credential: credential,
            permission: permission, sideEffect: sideEffect)
    }

    func run(
        plan: CommandPlan, on instance: InstanceID, now: Int64,
        credential: Credential? = nil,
        permission: Permission? = nil, sideEffect: SideEffect? = nil
    ) async throws(EngineError) -> [DomainEvent] {
        if broken.withLock({ $0 }) != nil {
            throw EngineError(
                code: .genericInternalInvariantFailure,
                hint: "the engine stopped after an internal error")
        }
        let events = try await actor(for: instance).execute(
            plan, context: context(now: now), credential: credential, permission: permission,
            sideEffect: sideEffect)
        checkpointIfDue()
        return events
    }

    // MARK: Credentials

    /// Checks what a request presented against `instance`.
    ///
    /// A well-formed login token known to the instance authenticates as that token (and fails
    /// when it expired or was revoked); an unknown one fails at once (spec §10.10: a credential
    /// of the token shape is never tried as a password, so an unknown token costs what a
    /// revoked one costs and no KDF run; an instance password that happens to have the token
    /// shape works only through `Basic`). Anything else after `secret-token:` is tried as the
    /// instance password (legacy clients send it that way). `Basic` is accepted only when
    /// `allowBasic` (minting) and the user name is the instance id. An instance that has no
    /// password needs no credentials.
    ///
    /// A password check waits for its turn in `requester`'s share of the hashing queue.
    /// - Throws: 404 (2000/2016) for an unknown or deleted instance; ``EngineError/busy``
    ///   (429) when `requester`'s share or the queue is full; 401 (2015) otherwise.
    public func authenticate(
        _ presented: PresentedCredential, instance: InstanceID, allowBasic: Bool = false,
        requester: RequesterKey = .local
    )
        async throws(EngineError) -> Principal
    {
        switch try check(presented, instance: instance, allowBasic: allowBasic) {
        case .decided(let principal):
            return principal
        case .password(let password):
            guard try await hasher.verify(password.text, against: password.stored, for: requester)
            else {
                throw .unauthorized
            }
            cache.insert(
                instance, password: password.text, generation: password.generation,
                now: password.now)
            return password.principal
        }
    }

    /// ``authenticate(_:instance:allowBasic:requester:)`` without waiting: the same answer
    /// when it needs no run of the password KDF (a login token, no credential, an instance
    /// without a password, a password checked recently), `nil` when it does. The forward-auth
    /// check answers most requests this way on the connection's own thread.
    public func authenticateNow(
        _ presented: PresentedCredential, instance: InstanceID, allowBasic: Bool = false
    ) throws(EngineError) -> Principal? {
        switch try check(presented, instance: instance, allowBasic: allowBasic) {
        case .decided(let principal): principal
        case .password: nil
        }
    }

    /// What ``authenticate(_:instance:allowBasic:requester:)`` decides before any hashing.
    private enum CredentialCheck {
        /// A password to verify against the stored hash; `principal` when it matches.
        struct Password {
            var text: String
            var stored: PasswordHash
            var generation: UInt64
            var now: Int64
            var principal: Principal
        }
        case decided(Principal)
        case password(Password)
    }

    private func check(_ presented: PresentedCredential, instance: InstanceID, allowBasic: Bool)
        throws(EngineError) -> CredentialCheck
    {
        let now = clock.nowMicroseconds()
        var tokenHash: TokenHash?
        var tokenShaped = false
        if case .secretToken(let text) = presented {
            tokenHash = loginTokenHash(text)
            tokenShaped = LoginToken.hasTokenShape(text)
        }
        let snapshot:
            Result<(auth: InstanceAuth, generation: UInt64, token: Principal?), Rejection> =
                projection.read { c in
                    guard let state = c.state[instance] else { return .failure(.instanceUnknown) }
                    guard state.isActive else { return .failure(.instanceDeleted) }
                    var token: Principal?
                    if let hash = tokenHash, state.token(hash: hash) != nil {
                        do throws(Rejection) {
                            let permissions = try state.permissions(of: .token(hash), at: now)
                            token = Principal(
                                credential: .token(hash), permissions: permissions, viaBasic: false)
                        } catch {
                            return .failure(error)
                        }
                    }
                    return .success((state.auth, state.credentialGeneration, token))
                }
        let (auth, generation, token) = try snapshot.mapError(EngineError.rejected).get()
        if let token { return .decided(token) }
        let password: String
        let basic: Bool
        switch (presented, auth) {
        case (_, .external):
            return .decided(
                Principal(
                    credential: .password(basic: false, credentialGeneration: generation),
                    permissions: .everyPermission, viaBasic: false))
        case (.basic(let user, let pw), .password):
            guard allowBasic, user == instance.rawValue else { throw .unauthorized }
            (password, basic) = (pw, true)
        case (.secretToken, .password) where tokenShaped:
            throw .unauthorized
        case (.secretToken(let text), .password):
            (password, basic) = (text, false)
        case (.none, .password):
            throw .unauthorized
        }
        guard case .password(let stored) = auth else { throw .unauthorized }
        let principal = Principal(
            credential: .password(basic: basic, credentialGeneration: generation),
            permissions: .everyPermission,
            viaBasic: basic)
        if cache.contains(instance, password: password, generation: generation, now: now) {
            return .decided(principal)
        }
        return .password(
            .init(
                text: password, stored: stored, generation: generation, now: now,
                principal: principal))
    }

    // MARK: Tokens

    /// Revokes the login token the request presented (`DELETE [/instances/$ID]/private/token`).
    /// - Throws: 400 (26) when the principal is a password, 401 when the token is not valid.
    public func revokePresentedToken(instance: InstanceID, by principal: Principal)
        async throws(EngineError)
    {
        guard case .token(let hash) = principal.credential else {
            throw EngineError.malformed("Authorization", "only a login token can revoke itself")
        }
        _ = try await run(
            .revokeToken(RevokeToken(hash: hash)), on: instance, now: clock.nowMicroseconds())
    }

    /// Revokes a token by serial (`DELETE [/instances/$ID]/private/tokens/$SERIAL`); needs
    /// `tokens-write`.
    public func deleteToken(instance: InstanceID, serial: TokenSerial, by principal: Principal)
        async throws(EngineError)
    {
        _ = try await run(
            .deleteToken(DeleteToken(serial: serial)), on: instance, now: clock.nowMicroseconds(),
            credential: principal.credential, permission: .tokensWrite)
    }

    /// The tokens valid now (`GET [/instances/$ID]/private/tokens`); needs `tokens-read`.
    /// `limit` < 0: newest first, serials below `offset`; > 0: oldest first, above `offset`.
    public func listTokens(
        instance: InstanceID, by principal: Principal, limit: Int, offset: UInt64?
    )
        throws(EngineError) -> [TokenRecord]
    {
        guard limit != 0 else { throw EngineError.malformed("limit", "limit must not be 0") }
        let now = clock.nowMicroseconds()
        let listed: Result<[TokenRecord], Rejection> = projection.read { c in
            guard let state = c.state[instance] else { return .failure(.instanceUnknown) }
            do throws(Rejection) {
                try state.authorize(principal.credential, requiring: .tokensRead, at: now)
            } catch {
                return .failure(error)
            }
            var out = [TokenRecord]()
            let wanted = limit.magnitude
            let tokens = state.tokens
            if limit < 0 {
                // Serials strictly below `offset`: serial `offset - 1` sits at index `offset - 2`.
                var index = tokens.count - 1
                if let offset { index = min(Int(clamping: offset) - 2, index) }
                while index >= 0, out.count < wanted {
                    if tokens[index].status(at: now) == .valid { out.append(tokens[index]) }
                    index -= 1
                }
            } else {
                var index = Int(clamping: offset ?? 0)
                while index < tokens.count, out.count < wanted {
                    if tokens[index].status(at: now) == .valid { out.append(tokens[index]) }
                    index += 1
                }
            }
            return .success(out)
        }
        return try listed.mapError(EngineError.rejected).get()
    }

    // MARK: Instances

    /// How a new or changed instance authenticates: with a password (hashed here) or with
    /// nothing (`external`).
    public enum NewAuth: Sendable {
        case password(String)
        case external
    }

    /// The fields of a new instance.
    public struct NewInstance: Sendable {
        public var id: InstanceID
        public var name: String
        public var auth: NewAuth
        public var email: String?
        public var phoneNumber: String?
        /// The merchant's business fields as JSON bytes, stored and returned as given.
        public var details: [UInt8]
        /// Whether the creator vouches for the addresses, which are then recorded validated
        /// (spec §10.1): the operator, through `/management/instances` or at bootstrap.
        public var addressesVouched: Bool

        public init(
            id: InstanceID, name: String, auth: NewAuth, email: String? = nil,
            phoneNumber: String? = nil,
            details: [UInt8] = [], addressesVouched: Bool = true
        ) {
            self.id = id
            self.name = name
            self.auth = auth
            self.email = email
            self.phoneNumber = phoneNumber
            self.details = details
            self.addressesVouched = addressesVouched
        }
    }

    /// Creates an instance. Repeating a creation with the same data succeeds and changes
    /// nothing; with other data it fails with 409 (2600). Returns whether it was created now.
    /// The password is hashed (and compared with an existing one) in `requester`'s share of
    /// the hashing queue: ``EngineError/busy`` when it is full.
    ///
    /// With a merchant backend configured, the instance is created there too (spec §9; see
    /// `TokenEngine+Merchant.swift`): the merchant's refusal is thrown and nothing is
    /// recorded.
    @discardableResult
    public func createInstance(_ new: NewInstance, requester: RequesterKey = .local)
        async throws(EngineError) -> Bool
    {
        try await createInstance(
            new, requester: requester,
            sideEffect: creationInMerchant(new, now: clock.nowMicroseconds()))
    }

    func createInstance(_ new: NewInstance, requester: RequesterKey, sideEffect: SideEffect?)
        async throws(EngineError) -> Bool
    {
        let now = clock.nowMicroseconds()
        let existing: (auth: InstanceAuth, generation: UInt64)? = projection.read { c in
            c.state[new.id].map { ($0.auth, $0.credentialGeneration) }
        }
        var verified: UInt64?
        let auth: InstanceAuth
        switch new.auth {
        case .external:
            auth = .external
        case .password(let password):
            if let existing, case .password(let stored) = existing.auth,
                try await hasher.verify(password, against: stored, for: requester)
            {
                verified = existing.generation
                auth = existing.auth
            } else {
                auth = .password(try await hasher.hash(password, for: requester))
            }
        }
        let command = CreateInstance(
            id: new.id, name: new.name, auth: auth, email: new.email, phoneNumber: new.phoneNumber,
            details: new.details, passwordVerifiedAgainstGeneration: verified,
            addressesVouched: new.addressesVouched)
        let events = try await run(
            .createInstance(command), on: new.id, now: now, sideEffect: sideEffect)
        await finishedInMerchant(new.id, events)
        return !events.isEmpty
    }

    /// The instance's committed state (for details and tests). Callers must not keep it across
    /// writes they are waiting for: it is a snapshot.
    ///
    /// A copy: while it is held, the next change to the instance copies what the copy shares
    /// with the state (its token hash index, at 10M tokens 128 MB). Request paths read with
    /// ``withInstance(_:_:)`` instead.
    public func instance(_ id: InstanceID) -> InstanceState? {
        projection.read { $0.state[id] }
    }

    /// What `body` reads of the committed instance `id` (`nil` when there is none), under the
    /// projection's lock: keep it short, and return only what it needs.
    public func withInstance<R>(_ id: InstanceID, _ body: (InstanceState) -> R) -> R? {
        projection.read { c in c.state[id].map(body) }
    }

    /// Every instance id, sorted.
    public func instanceIDs() -> [InstanceID] {
        projection.read { $0.state.instances.keys.sorted() }
    }

    // MARK: State

    /// The canonical digest of the committed state (hex SHA-256), equal to the digest of a
    /// replay of the log up to the same records.
    public func digest() -> String {
        projection.read { c in StateDigest.hex(of: c.state) }
    }

    /// The sequence up to which every record is folded into the state.
    public var appliedThrough: UInt64 { projection.read { $0.appliedThrough } }

    /// Saves a checkpoint now if the state matches a prefix of the log (no record folded
    /// ahead of an earlier one), writing only what changed since the last one
    /// (``Checkpointer``). Returns the sequence it covers, or `nil` when it skipped.
    @discardableResult
    public func checkpoint() async throws -> UInt64? {
        try await checkpointer.save(projection)
    }

    /// Returns once a checkpoint started in the background (by the command that crossed the
    /// interval) has finished, saved or not.
    public func backgroundCheckpointSettled() async {
        await checkpointer.settled()
    }

    /// The newest checkpoints this engine saved (up to 100), oldest first.
    public var checkpointReports: [CheckpointReport] { checkpointer.reports.withLock { $0 } }

    /// Starts a checkpoint in the background once ``EngineConfiguration/checkpointInterval``
    /// events were folded since the last one; the request that crossed it does not wait.
    private func checkpointIfDue() {
        guard configuration.checkpointInterval > 0,
            projection.read({ $0.sinceCheckpoint }) >= configuration.checkpointInterval
        else { return }
        checkpointer.startIfIdle(projection)
    }
}
