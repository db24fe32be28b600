/// Everything the server knows about one instance, folded from its event stream.
///
/// A value type: the engine's instance actor owns one and changes it only by folding
/// committed events (``Decider/evolve(_:instance:with:)``), so a replay of the log builds
/// exactly the state the live server had. Tokens sit in a ``TokenTable`` at index
/// `serial - 1` (serials are dense) with a hash index beside it; see ``TokenRecord`` for the
/// memory arithmetic.
public struct InstanceState: Sendable {
    public let id: InstanceID
    /// When the instance was created (µs).
    public let createdAt: Int64
    public internal(set) var name: String
    public internal(set) var auth: InstanceAuth
    /// 1 at creation, bumped by every credential change. The engine reports which
    /// generation it checked a password against; a stale one is refused.
    public internal(set) var credentialGeneration: UInt64
    public internal(set) var email: String?
    public internal(set) var phoneNumber: String?
    /// Set when an e-mail challenge sent to the current e-mail address is solved, or when
    /// `instance-address-validated` records it; reset when the e-mail changes.
    public internal(set) var emailValidated: Bool
    /// Set when an SMS challenge sent to the current phone number is solved; reset when
    /// the phone number changes.
    public internal(set) var phoneValidated: Bool
    /// Opaque JSON bytes of the merchant's business fields.
    public internal(set) var details: [UInt8]
    public internal(set) var lifecycle: InstanceLifecycle
    /// Every token ever issued and not purged, by serial: `tokens[serial - 1]`.
    public private(set) var tokens: TokenTable
    private var tokenIndex: TokenHashIndex
    /// Every TAN challenge of the instance, by id, whatever its status.
    public internal(set) var challenges: [ChallengeID: ChallengeState]
    /// Failed confirmations of challenges in a row, whatever operation they protect: since
    /// the last login block or the last solved challenge (spec §10.4).
    public internal(set) var challengeFailures: UInt32
    /// The end of the last login block, until `instance-logins-unblocked` records its end;
    /// whether logins are blocked is ``loginsBlocked(at:)``.
    public internal(set) var loginsBlockedUntil: Int64?
    /// The fingerprint of the backend credential the operator set for the instance (spec
    /// §9), `nil` when none is set.
    public internal(set) var backendCredential: BackendCredentialFingerprint?
    /// While `true`, issued tokens are appended without indexing them (a bulk fold); see
    /// ``deferTokenIndex()``.
    private var tokenIndexDeferred = false

    init(id: InstanceID, created event: InstanceCreated) {
        self.id = id
        createdAt = event.at
        name = event.name
        auth = event.auth
        credentialGeneration = 1
        email = event.email
        phoneNumber = event.phoneNumber
        emailValidated = false
        phoneValidated = false
        details = event.details
        lifecycle = .active
        tokens = TokenTable()
        tokenIndex = TokenHashIndex()
        challenges = [:]
        challengeFailures = 0
        loginsBlockedUntil = nil
    }

    /// Restores an instance with every field given, e.g. from a snapshot; `tokenIndex` must
    /// index exactly `tokens`.
    init(
        id: InstanceID, createdAt: Int64, name: String, auth: InstanceAuth,
        credentialGeneration: UInt64, email: String?, phoneNumber: String?,
        emailValidated: Bool, phoneValidated: Bool, details: [UInt8],
        lifecycle: InstanceLifecycle, tokens: TokenTable, tokenIndex: TokenHashIndex,
        challenges: [ChallengeID: ChallengeState] = [:], challengeFailures: UInt32 = 0,
        loginsBlockedUntil: Int64? = nil, backendCredential: BackendCredentialFingerprint? = nil
    ) {
        self.id = id
        self.createdAt = createdAt
        self.name = name
        self.auth = auth
        self.credentialGeneration = credentialGeneration
        self.email = email
        self.phoneNumber = phoneNumber
        self.emailValidated = emailValidated
        self.phoneValidated = phoneValidated
        self.details = details
        self.lifecycle = lifecycle
        self.tokens = tokens
        self.tokenIndex = tokenIndex
        self.challenges = challenges
        self.challengeFailures = challengeFailures
        self.loginsBlockedUntil = loginsBlockedUntil
        self.backendCredential = backendCredential
    }

    /// Stops indexing token hashes until ``rebuildTokenIndex()``: for folding many events at
    /// once, where one index build at the end costs a fraction of inserting hash after hash
    /// (each insert waits on a cache miss). Lookups by hash are not allowed in between.
    mutating func deferTokenIndex() {
        tokenIndexDeferred = true
    }

    /// Indexes every token again after ``deferTokenIndex()``.
    /// - Throws: ``FoldError`` naming the first token whose hash an earlier token has; the
    ///   index is then left deferred and the state must be discarded.
    mutating func rebuildTokenIndex() throws(FoldError) {
        guard tokenIndexDeferred else { return }
        var index = TokenHashIndex()
        if let duplicate = index.build(from: tokens) {
            throw FoldError(
                instance: id, tag: .tokenIssued,
                problem: .duplicateTokenHash(tokens[duplicate].serial))
        }
        tokenIndex = index
        tokenIndexDeferred = false
    }

    /// A copy for a checkpoint to encode: every field and token, without the token hash
    /// index, so that holding the copy never makes the live state copy its index (at 10M
    /// tokens 128 MB) on its next token. Looking a token up by hash in the copy is refused.
    public func withoutTokenIndex() -> InstanceState {
        var copy = self
        copy.tokenIndex = TokenHashIndex()
        copy.tokenIndexDeferred = true
        return copy
    }

    /// The serial the next issued token gets.
    public var nextSerial: TokenSerial { TokenSerial(UInt64(tokens.count) + 1) }

    /// Whether the instance is in service (not deleted).
    public var isActive: Bool { lifecycle == .active }

    /// The token with this hash, whatever its status.
    public func token(hash: TokenHash) -> TokenRecord? {
        precondition(!tokenIndexDeferred, "token(hash:) during a bulk fold")
        guard let position = tokenIndex.position(of: hash, in: tokens) else { return nil }
        return tokens[position]
    }

    /// The token with this serial, whatever its status.
    public func token(serial: TokenSerial) -> TokenRecord? {
        guard serial.rawValue >= 1, serial.rawValue <= UInt64(tokens.count) else { return nil }
        return tokens[Int(serial.rawValue - 1)]
    }

    /// Prepares room for `count` more tokens (e.g. before loading a checkpoint), so the
    /// array and index do not grow by doubling.
    public mutating func reserveTokenCapacity(_ count: Int) {
        tokens.reserveCapacity(count)
        // A deferred index is built at its final size when the bulk fold ends.
        if !tokenIndexDeferred { tokenIndex.reserveCapacity(tokens.count + count, records: tokens) }
    }

    /// The permissions `credential` carries on this instance at `now`: every permission for
    /// the instance's own (current-generation) credentials, the scope's permissions for a
    /// valid login token. The hot path of every authenticated request.
    ///
    /// A token whose serial is in `pendingRevocations` (revocation decided, not committed;
    /// see ``DecisionContext/pendingRevocations``) counts as revoked.
    ///
    /// - Throws: ``Rejection/instanceDeleted`` (404, 2016);
    ///   ``Rejection/unauthorized(_:)`` (401, 2015) for an unknown, expired or revoked token
    ///   or a stale credential generation.
    public func permissions(
        of credential: Credential, at now: Int64, pendingRevocations: Set<TokenSerial> = []
    ) throws(Rejection) -> PermissionSet {
        guard isActive else { throw .instanceDeleted }
        switch credential {
        case .password(_, let generation):
            guard generation == credentialGeneration else {
                throw .unauthorized(.credentialsChanged)
            }
            return .everyPermission
        case .token(let hash):
            return try validToken(hash: hash, at: now, pendingRevocations: pendingRevocations)
                .permissions
        }
    }

    /// Checks that `credential` carries `permission` at `now`, counting the serials in
    /// `pendingRevocations` as revoked.
    ///
    /// - Throws: what ``permissions(of:at:pendingRevocations:)`` throws, and
    ///   ``Rejection/permissionInsufficient(missing:)`` (403, 16) when the permission is
    ///   missing.
    public func authorize(
        _ credential: Credential, requiring permission: Permission, at now: Int64,
        pendingRevocations: Set<TokenSerial> = []
    ) throws(Rejection) {
        let held = try permissions(of: credential, at: now, pendingRevocations: pendingRevocations)
        guard held.contains(permission) else {
            throw .permissionInsufficient(missing: PermissionSet(permission))
        }
    }

    /// The token with this hash if it can authenticate at `now`; one whose serial is in
    /// `pendingRevocations` counts as revoked.
    ///
    /// - Throws: ``Rejection/unauthorized(_:)`` with the reason.
    func validToken(hash: TokenHash, at now: Int64, pendingRevocations: Set<TokenSerial>)
        throws(Rejection) -> TokenRecord
    {
        guard let token = token(hash: hash) else { throw .unauthorized(.tokenUnknown) }
        if !pendingRevocations.isEmpty, pendingRevocations.contains(token.serial) {
            throw .unauthorized(.tokenRevoked)
        }
        switch token.liveStatus(at: now) {
        case .valid: return token
        case .expired: throw .unauthorized(.tokenExpired)
        case .revoked: throw .unauthorized(.tokenRevoked)
        }
    }

    /// Folds one event that keeps the instance in the state (everything but creation and
    /// purge, which ``Decider/evolve(_:instance:with:)`` handles).
    ///
    /// Enforces only what the state's shape needs: dense serials, unique hashes, generations
    /// in sequence, a token revoked at most once. The rules of the business are `decide`'s.
    mutating func apply(_ event: DomainEvent) throws(FoldError) {
        switch event {
        case .instanceCreated:
            throw FoldError(instance: id, tag: event.tag, problem: .instanceAlreadyExists)
        case .instancePurged:
            preconditionFailure("purge is folded by Decider.evolve")
        case .instanceCredentialsChanged(let changed):
            guard changed.generation == credentialGeneration &+ 1 else {
                throw FoldError(
                    instance: id, tag: event.tag,
                    problem: .generationOutOfSequence(
                        expected: credentialGeneration &+ 1, found: changed.generation))
            }
            auth = changed.auth
            credentialGeneration = changed.generation
        case .instanceDetailsUpdated(let updated):
            if updated.email != email { emailValidated = false }
            if updated.phoneNumber != phoneNumber { phoneValidated = false }
            name = updated.name
            email = updated.email
            phoneNumber = updated.phoneNumber
            details = updated.details
        case .instanceDeleted(let deleted):
            if isActive { lifecycle = .deleted(at: deleted.at) }
        case .tokenIssued(let issued):
            try applyIssued(issued)
        case .tokenRevoked(let revoked):
            let serial = revoked.serial
            guard serial.rawValue >= 1, serial.rawValue <= UInt64(tokens.count) else {
                throw FoldError(instance: id, tag: event.tag, problem: .tokenUnknown(serial))
            }
            let index = Int(serial.rawValue - 1)
            guard tokens[index].revokedAt == nil else {
                throw FoldError(instance: id, tag: event.tag, problem: .tokenAlreadyRevoked(serial))
            }
            tokens[index].revokedAt = revoked.at
        case .challengeCreated, .challengeCodeTransmitted, .challengeAttemptFailed,
            .challengeSolved, .challengeConsumed, .challengeExpired, .instanceLoginsBlocked,
            .instanceLoginsUnblocked:
            try applyChallengeEvent(event)
        case .backendCredentialSet(let set):
            backendCredential = set.fingerprint
        case .backendCredentialRemoved:
            backendCredential = nil
        case .merchantInstanceChanged:
            break  // a record of the merchant's side; Tallystick's state is in the events beside it
        case .instanceAddressValidated(let validated):
            guard address(for: validated.channel) == validated.address else {
                throw FoldError(
                    instance: id, tag: event.tag, problem: .addressMismatch(validated.channel))
            }
            switch validated.channel {
            case .email: emailValidated = true
            case .sms: phoneValidated = true
            }
        }
    }

    private mutating func applyIssued(_ issued: TokenIssued) throws(FoldError) {
        guard issued.serial == nextSerial, tokens.count < Int(UInt32.max) else {
            throw FoldError(
                instance: id, tag: .tokenIssued,
                problem: .serialOutOfSequence(expected: nextSerial, found: issued.serial))
        }
        tokens.append(TokenRecord(issued: issued))
        if tokenIndexDeferred { return }
        guard tokenIndex.insert(position: tokens.count - 1, of: tokens) else {
            tokens.removeLast()
            throw FoldError(
                instance: id, tag: .tokenIssued, problem: .duplicateTokenHash(issued.serial))
        }
    }
}

extension InstanceState: Equatable {
    /// Equal when every folded field, every token record and every challenge is equal; the hash index is
    /// derived from the records and not compared.
    public static func == (lhs: InstanceState, rhs: InstanceState) -> Bool {
        lhs.id == rhs.id && lhs.createdAt == rhs.createdAt && lhs.name == rhs.name
            && lhs.auth == rhs.auth && lhs.credentialGeneration == rhs.credentialGeneration
            && lhs.email == rhs.email && lhs.phoneNumber == rhs.phoneNumber
            && lhs.emailValidated == rhs.emailValidated && lhs.phoneValidated == rhs.phoneValidated
            && lhs.details == rhs.details && lhs.lifecycle == rhs.lifecycle
            && lhs.tokens == rhs.tokens && lhs.challenges == rhs.challenges
            && lhs.challengeFailures == rhs.challengeFailures
            && lhs.loginsBlockedUntil == rhs.loginsBlockedUntil
            && lhs.backendCredential == rhs.backendCredential
    }
}
